// Package coin calls COIN-OR CBC (a MILP solver) and CLP (its LP solver) through their C interfaces,
// loading the libraries when the program runs (dlopen) rather than linking them.
//
// Why at run time: one binary, built with Go alone (`go build ./job`, what ./launch.sh does), then uses
// CBC on every machine where the library is installed (Debian: `coinor-libcbc3`) and works without it
// everywhere else — the optimizer's exact solver simply has no MILP solver there. Linking would make the
// library a build dependency of every user (or a build tag most builds leave out, as it once was here).
//
// The package needs cgo (it calls C function pointers); without it Load reports that and nothing else
// is compiled. Only the few calls the optimizer makes are bound; their C signatures are those of CBC
// 2.10's Cbc_C_Interface.h and CLP 1.17's Clp_C_Interface.h, declared here so no header is needed to
// build.
package coin
