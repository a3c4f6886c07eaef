package dataset

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// The vocabularies below are plain English words, names and products: what receipts, forms and letters
// print. Every character is printable ASCII, which the recogniser's character list covers.

var words = strings.Fields(`the of and to in is for on that with as by at from this be are was it an or
which have not will has can all more their one about other new been would there when who also into time
only some these than them may its after first two over most such where many through before between
under same while each should three people year state work part because made during system number
world order service group report market price account payment office credit balance delivery invoice
customer total amount quarter company policy review contract support member energy water travel hotel
morning evening weekly monthly annual budget project meeting schedule request approval record address
station garden window letter paper coffee bread butter cheese apple orange market street river bridge
north south east west center county city road avenue building floor room table chair light green blue
black white red simple clear quick slow early late short long large small final total public private
return refund receipt check cash card store branch manager staff team notice please thank welcome
visit again today tomorrow friday monday saturday sunday tuesday wednesday thursday january february
march april june july august september october november december`)

var products = strings.Fields(`Coffee Tea Milk Bread Butter Cheese Apples Oranges Bananas Eggs Rice Pasta
Sugar Flour Yogurt Juice Water Soap Towels Batteries Notebook Pencils Envelopes Stamps Lamp Candles
Tomatoes Onions Potatoes Carrots Chicken Salmon Cereal Honey Jam Olive Oil Vinegar Pepper Salt Cookies
Crackers Soup Beans Lettuce Grapes Lemons Shampoo Toothpaste Napkins Plates Cups Sandwich Muffin Bagel`)

var names = strings.Fields(`James Mary Robert Linda Michael Susan David Karen Daniel Laura Thomas Emma
Oliver Grace Henry Alice Samuel Clara Walter Irene Peter Helen Arthur Nora`)

var surnames = strings.Fields(`Smith Johnson Brown Taylor Miller Wilson Moore Clark Walker Wright Turner
Parker Collins Morgan Bennett Hughes Foster Porter Fisher Graham Hayes Reed Ward Palmer`)

var stores = []string{"Green Market", "Corner Grocery", "City Pharmacy", "Blue River Cafe", "North Hardware",
	"Sunrise Bakery", "Main Street Books", "Harbor Deli", "Oak Tree Foods", "Metro Supplies"}

var streets = []string{"Main St", "Oak Avenue", "Park Road", "River Lane", "Hill Street", "Station Road",
	"Elm Drive", "Market Square", "Church Lane", "Bridge Street"}

var cities = []string{"Springfield", "Riverside", "Fairview", "Greenville", "Madison", "Franklin",
	"Clinton", "Georgetown", "Salem", "Ashland"}

var months = strings.Fields("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec")

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// date prints a date in one of the formats documents use.
func date(r *rand.Rand) string {
	y, m, d := 2015+r.IntN(12), 1+r.IntN(12), 1+r.IntN(28)
	switch r.IntN(4) {
	case 0:
		return fmt.Sprintf("%04d-%02d-%02d", y, m, d)
	case 1:
		return fmt.Sprintf("%02d/%02d/%04d", m, d, y)
	case 2:
		return fmt.Sprintf("%s %d, %d", months[m-1], d, y)
	default:
		return fmt.Sprintf("%d.%02d.%d", d, m, y)
	}
}

func clock(r *rand.Rand) string { return fmt.Sprintf("%02d:%02d", 7+r.IntN(14), r.IntN(60)) }

func price(r *rand.Rand, max int) string {
	return fmt.Sprintf("%d.%02d", r.IntN(max), r.IntN(100))
}

func phone(r *rand.Rand) string {
	return fmt.Sprintf("(%03d) %03d-%04d", 200+r.IntN(700), 200+r.IntN(700), r.IntN(10000))
}

func person(r *rand.Rand) string { return pick(r, names) + " " + pick(r, surnames) }

func streetAddress(r *rand.Rand) string {
	return fmt.Sprintf("%d %s", 1+r.IntN(2400), pick(r, streets))
}

// sentence returns n words of running text, with an occasional number, date or price mixed in, the first
// word capitalised and a full stop at the end.
func sentence(r *rand.Rand, n int) string {
	ws := make([]string, n)
	for i := range ws {
		switch k := r.IntN(20); {
		case k == 0:
			ws[i] = fmt.Sprint(1 + r.IntN(999))
		case k == 1:
			ws[i] = "$" + price(r, 500)
		case k == 2 && i+2 < n:
			ws[i] = date(r)
		default:
			ws[i] = pick(r, words)
		}
	}
	ws[0] = strings.ToUpper(ws[0][:1]) + ws[0][1:]
	if r.IntN(4) == 0 && n > 4 {
		ws[n/2] += ","
	}
	return strings.Join(ws, " ") + "."
}
