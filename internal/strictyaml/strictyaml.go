// Package strictyaml decodes the project's YAML files the one strict way:
// unknown keys and a second document are errors, with their line.
package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// Decode fills v from raw, refusing unknown fields and more than one
// document.
func Decode(raw []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("the file is empty")
		}
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("line %d: a second YAML document is not allowed", extra.Line)
	}
	return nil
}
