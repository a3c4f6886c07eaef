package flow

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// Params are a step's parameters as written in the workflow file: an opaque table that only the step's
// factory interprets.
type Params map[string]any

// DecodeParams decodes p into the struct pointed to by into (toml tags), rejecting keys the struct does
// not have: a misspelt parameter must not silently become its default.
func DecodeParams(p Params, into any) error {
	var buf bytes.Buffer
	if err := toml.NewEncoder(&buf).Encode(map[string]any(p)); err != nil {
		return err
	}
	md, err := toml.Decode(buf.String(), into)
	if err != nil {
		return err
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return fmt.Errorf("unknown parameter(s): %s", strings.Join(keys, ", "))
	}
	return nil
}
