//go:build race

package collective

// raceEnabled: the race detector multiplies each process's memory and start-up time, so tests that start
// dozens of processes run only in the plain `go test` step.
const raceEnabled = true
