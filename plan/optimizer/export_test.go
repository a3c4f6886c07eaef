package optimizer

import "math"

// SetBoundSwitches lets the external tests cross-check the exact solver with bounds disabled.
func SetBoundSwitches(noLP, noMemo bool) { debugNoLP, debugNoMemo = noLP, noMemo }

// SetWindowBounds turns the tier-window strengthening of the LP bound on or off.
func SetWindowBounds(on bool) { debugNoWindows = !on }

// RootBounds returns, over the combinations meeting the target, the least root bound of each kind the
// exact solver uses: the plain LP, the tier-window LP, and the least box bound of phase 2.
func (p *Problem) RootBounds() (plain, windowed, box float64) {
	order, err := p.TopoOrder()
	if err != nil {
		panic(err)
	}
	s := &exactSearch{p: p, classes: p.Classes(), order: order}
	plain, windowed, box = math.Inf(1), math.Inf(1), math.Inf(1)
	for _, c := range p.Combos(p.Threshold) {
		s.setCombo(c)
		plain = math.Min(plain, math.Max(s.restLB(0), s.lpBound(0)))
		windowed = math.Min(windowed, math.Max(s.restLB(0), s.windowBound(0)))
		s.windows(0, func(lo, hi []int) {
			box = math.Min(box, math.Max(s.restLBIn(0, lo, hi), s.lpBoundIn(0, lo, hi)))
		})
	}
	return plain, windowed, box
}
