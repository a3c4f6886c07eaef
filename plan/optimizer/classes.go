package optimizer

// Class is a set of interchangeable workers: same tier, price, capacities, source links, links to and from
// every worker outside the class, and one link value between any two members. Real clusters have few
// classes (worker types × counts), which is what lets the exact solver scale.
type Class struct {
	Members []int // worker indices, ascending
	Tier    int
	Price   float64
}

// Classes partitions the workers into interchangeable classes (first member = representative).
func (p *Problem) Classes() []Class {
	var cls []Class
	internal := []float64{}
	for w := range p.Workers {
		joined := false
		for ci := range cls {
			if p.interchangeable(w, cls[ci].Members, internal[ci]) {
				if len(cls[ci].Members) == 1 {
					internal[ci] = p.Link[w][cls[ci].Members[0]]
				}
				cls[ci].Members = append(cls[ci].Members, w)
				joined = true
				break
			}
		}
		if !joined {
			cls = append(cls, Class{Members: []int{w}, Tier: p.Workers[w].Tier, Price: p.Workers[w].Price})
			internal = append(internal, 0)
		}
	}
	return cls
}

func (p *Problem) interchangeable(w int, members []int, internal float64) bool {
	r := members[0]
	if p.Workers[w].Tier != p.Workers[r].Tier || p.Workers[w].Price != p.Workers[r].Price {
		return false
	}
	for v := range p.Nodes {
		if p.IsSource[v] {
			if p.SrcLink[v][w] != p.SrcLink[v][r] {
				return false
			}
			continue
		}
		for _, caps := range p.Cap[v] {
			if caps[w] != caps[r] {
				return false
			}
		}
	}
	in := map[int]bool{}
	for _, m := range members {
		in[m] = true
		d := internal
		if len(members) == 1 {
			d = p.Link[w][m]
		}
		if p.Link[w][m] != d || p.Link[m][w] != d {
			return false
		}
	}
	for x := range p.Workers {
		if x == w || in[x] {
			continue
		}
		if p.Link[w][x] != p.Link[r][x] || p.Link[x][w] != p.Link[x][r] {
			return false
		}
	}
	return true
}
