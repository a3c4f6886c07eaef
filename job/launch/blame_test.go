package launch

import "testing"

func TestBlame(t *testing.T) {
	own := func(r int) exitRecord { return exitRecord{Rank: r, Failed: true} }
	follower := func(r int) exitRecord { return exitRecord{Rank: r, Failed: true, Followed: true} }
	stopped := func(r int) exitRecord { return exitRecord{Rank: r, Failed: true, Provoked: true} }
	cases := []struct {
		name     string
		exits    []exitRecord
		followed map[int]int
		root     int
		via      int
		ok       bool
	}{
		{"nobody failed", []exitRecord{{Rank: 0}, {Rank: 1}}, nil, 0, -1, false},
		{"one failure", []exitRecord{{Rank: 0}, own(3), stopped(1)}, nil, 3, -1, true},
		// SIGTERM of rank 2: its peers report its abort and exit before it does.
		{"followers exit first", []exitRecord{follower(0), follower(5), own(2), stopped(1)}, map[int]int{0: 5, 5: 2}, 2, -1, true},
		{"kill from outside preferred", []exitRecord{own(4), {Rank: 1, Failed: true, Signaled: true}}, nil, 1, -1, true},
		// SIGSTOP of rank 2: everyone else gives up on it; it only ends when the launcher stops it.
		{"stopped rank named by its followers", []exitRecord{follower(1), follower(0), stopped(2)}, map[int]int{1: 2, 0: 1}, 2, 1, true},
		{"chain through relays", []exitRecord{follower(0), stopped(4), stopped(3)}, map[int]int{0: 3, 3: 4}, 4, 3, true},
		{"cycle falls back", []exitRecord{follower(0), follower(1)}, map[int]int{0: 1, 1: 0}, 1, 0, true},
		{"follower without a line", []exitRecord{follower(2), stopped(1)}, nil, 2, -1, true},
		{"followed rank does not exist", []exitRecord{follower(2), stopped(1)}, map[int]int{2: 99}, 2, -1, true},
		{"followed rank ended cleanly", []exitRecord{follower(0), {Rank: 1}}, map[int]int{0: 1}, 1, 0, true},
	}
	for _, c := range cases {
		root, via, ok := blame(c.exits, c.followed)
		if root != c.root || via != c.via || ok != c.ok {
			t.Errorf("%s: got root %d via %d ok %v; want %d via %d ok %v", c.name, root, via, ok, c.root, c.via, c.ok)
		}
	}
}

// A rank found stopped is the root even when, woken to be ended, it reported losing the peers it could not
// hear while frozen (and so seems to follow them).
func TestPreferStopped(t *testing.T) {
	exits := []exitRecord{{Rank: 2, Failed: true, Followed: true}, {Rank: 4, Failed: true, Followed: true}, {Rank: 0, Failed: true, Followed: true}}
	followed := map[int]int{2: 4, 4: 2, 0: 2}
	if root, via := preferStopped(4, 2, map[int]bool{2: true}, followed, exits); root != 2 || via != 4 {
		t.Fatalf("root %d via %d, want the stopped rank 2 via rank 4, which followed it", root, via)
	}
	if root, via := preferStopped(4, 2, nil, followed, exits); root != 4 || via != 2 {
		t.Fatalf("nothing stopped: root %d via %d changed", root, via)
	}
	if root, via := preferStopped(2, 4, map[int]bool{2: true}, followed, exits); root != 2 || via != 4 {
		t.Fatalf("root already stopped: %d %d", root, via)
	}
}
