package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// DecodeStrictTOML decodes data into v and rejects keys v has no field for: in a plan or an optimizer input a
// misspelt key must be an error, not a silently ignored setting. Errors start with name (usually the file
// path) and, for syntax errors, the line.
func DecodeStrictTOML(name string, data []byte, v any) error {
	md, err := toml.Decode(string(data), v)
	if err != nil {
		if pe, ok := err.(toml.ParseError); ok {
			return fmt.Errorf("%s:%d: %s", name, pe.Position.Line, pe.Message)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return fmt.Errorf("%s: unknown key(s): %s", name, strings.Join(keys, ", "))
	}
	return nil
}
