//go:build !cgo

package coin

import "errors"

// Load reports that this build cannot call C (CGO_ENABLED=0).
func Load() error { return errors.New("COIN-OR CBC: this binary was built without cgo") }

// EnvLib names the CBC library to load (unused without cgo).
const EnvLib = "JELLYBEAN_CBC_LIB"
