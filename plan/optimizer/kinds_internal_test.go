package optimizer

import (
	"fmt"
	"testing"
)

func TestForEachPermutation(t *testing.T) {
	for n, want := range []int{1, 1, 2, 6, 24, 120, 720} {
		seen := map[string]bool{}
		forEachPermutation(n, func(perm []int) bool {
			in := make([]bool, n)
			for _, k := range perm {
				if k < 0 || k >= n || in[k] {
					t.Fatalf("n=%d: %v is not a permutation", n, perm)
				}
				in[k] = true
			}
			seen[fmt.Sprint(perm)] = true
			return true
		})
		if len(seen) != want {
			t.Errorf("n=%d: %d permutations, want %d", n, len(seen), want)
		}
	}
	calls := 0
	forEachPermutation(4, func([]int) bool { calls++; return calls < 3 })
	if calls != 3 {
		t.Errorf("stopped after %d calls, want 3", calls)
	}
	calls = 0
	forEachPermutation(9, func([]int) bool { calls++; return true })
	if calls != 1 {
		t.Errorf("9 uses: %d permutations tried, want the identity only", calls)
	}
}
