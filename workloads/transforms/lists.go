package transforms

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// loadList reads a vocabulary, charset or label list: with key, the JSON file's member of that name (a
// list of strings, or one string whose characters are the entries); without, a text file with one entry
// per line (a trailing newline ends the last entry, it does not add an empty one).
func loadList(path, key string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if key == "" {
		text := strings.TrimSuffix(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
		if text == "" {
			return nil, fmt.Errorf("%s: empty list", path)
		}
		return strings.Split(text, "\n"), nil
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	raw, ok := doc[key]
	if !ok {
		return nil, fmt.Errorf("%s: no member %q", path, key)
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%s: member %q is neither a list of strings nor a string", path, key)
	}
	for _, r := range s {
		list = append(list, string(r))
	}
	return list, nil
}

func required(name, value string) error {
	if value == "" {
		return fmt.Errorf("%s: missing", name)
	}
	return nil
}
