package hwprofiles

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/mtlsplit/mtlsplit/internal/strictyaml"
	"github.com/mtlsplit/mtlsplit/internal/suggest"
)

// FileVersion is the only catalog file version this package reads.
const FileVersion = 1

// file is the schema of one catalog file.
type file struct {
	Version  *int      `yaml:"version"`
	Devices  []Device  `yaml:"devices"`
	Servers  []Device  `yaml:"servers"`
	Networks []Network `yaml:"networks"`
	Stacks   []Stack   `yaml:"stacks"`
}

// parse decodes one file strictly. It returns a nil catalog when the file
// cannot be decoded at all; otherwise the catalog, with kinds, files and
// lines filled in, plus the problems found on the way (version, kind).
func parse(name string, data []byte) (*Catalog, []Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, []Problem{{File: name, Msg: fmt.Sprintf("file is empty; want %q and devices:, servers: or networks:", "version: 1")}}
		}
		return nil, yamlProblems(name, err)
	}
	var probs []Problem
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		probs = append(probs, Problem{File: name, Msg: "a second YAML document is not allowed"})
		probs = append(probs, yamlProblems(name, err)...)
	default:
		probs = append(probs, Problem{File: name, Line: docLine(&extra), Msg: "a second YAML document is not allowed (one catalog per file)"})
	}

	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, append(probs, yamlProblems(name, err)...)
	}
	top := map[string]*yaml.Node{}
	topLine := map[string]int{}
	if len(root.Content) > 0 && root.Content[0].Kind == yaml.MappingNode {
		m := root.Content[0]
		for i := 0; i+1 < len(m.Content); i += 2 {
			top[m.Content[i].Value] = m.Content[i+1]
			topLine[m.Content[i].Value] = m.Content[i].Line
		}
	} else if len(root.Content) > 0 {
		return nil, append(probs, Problem{File: name, Line: root.Content[0].Line, Msg: "want a mapping with version: and devices:, servers:, networks: or stacks:"})
	}

	switch {
	case f.Version == nil:
		probs = append(probs, Problem{File: name, Line: 1, Msg: fmt.Sprintf("version is missing; want version: %d", FileVersion)})
	case *f.Version != FileVersion:
		probs = append(probs, Problem{File: name, Line: topLine["version"], Msg: fmt.Sprintf("version %d is not supported; want version: %d", *f.Version, FileVersion)})
	}

	c := &Catalog{Devices: f.Devices, Servers: f.Servers, Networks: f.Networks, Stacks: f.Stacks}
	probs = append(probs, fillDevices(name, c.Devices, KindEdge, "devices", top["devices"])...)
	probs = append(probs, fillDevices(name, c.Servers, KindServer, "servers", top["servers"])...)
	probs = append(probs, fillLines(name, "networks", top["networks"], len(c.Networks), func(i int) (*string, *int, *map[string]int) {
		n := &c.Networks[i]
		return &n.File, &n.Line, &n.lines
	})...)
	probs = append(probs, fillLines(name, "stacks", top["stacks"], len(c.Stacks), func(i int) (*string, *int, *map[string]int) {
		s := &c.Stacks[i]
		return &s.File, &s.Line, &s.lines
	})...)
	return c, probs
}

// fillLines sets the file, line and key lines of the n entries of a list
// (at returns where entry i keeps them) and reports its empty entries.
func fillLines(name, list string, seq *yaml.Node, n int, at func(i int) (*string, *int, *map[string]int)) []Problem {
	items, probs := seqItems(name, list, seq)
	for i := range n {
		file, line, lines := at(i)
		*file = name
		if i < len(items) {
			*line, *lines = entryLines(items[i])
		}
	}
	return probs
}

// fillDevices sets File, Line and Kind of the devices read from one list,
// and reports an explicit kind that disagrees with the list.
func fillDevices(name string, ds []Device, kind, list string, seq *yaml.Node) []Problem {
	items, probs := seqItems(name, list, seq)
	for i := range ds {
		d := &ds[i]
		d.File = name
		if i < len(items) {
			d.Line, d.lines = entryLines(items[i])
		}
		switch d.Kind {
		case "":
			d.Kind = kind
		case kind:
		default:
			probs = append(probs, Problem{File: name, Line: d.line("kind"),
				Msg: fmt.Sprintf("%s %q: kind %q disagrees with the %s: list it is in (kind %q)", label(kind), d.ID, d.Kind, list, kind)})
			d.Kind = kind
		}
	}
	return probs
}

// seqItems returns the entries of a list, in the order the decoder filled
// the slice, and reports empty entries, which the decoder drops silently.
func seqItems(name, list string, n *yaml.Node) ([]*yaml.Node, []Problem) {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil, nil
	}
	var items []*yaml.Node
	var probs []Problem
	for _, it := range n.Content {
		v := it
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
			probs = append(probs, Problem{File: name, Line: it.Line, Msg: fmt.Sprintf("empty entry in the %s: list", list)})
			continue
		}
		items = append(items, it)
	}
	return items, probs
}

// entryLines returns the line of a list entry and the lines of its keys. An
// alias (*name) has only its own line: its keys sit at the anchor.
func entryLines(n *yaml.Node) (int, map[string]int) {
	if n.Kind == yaml.AliasNode {
		return n.Line, nil
	}
	return n.Line, keyLines(n)
}

// keyLines maps every key path of an entry ("peak_gflops",
// "peak_gflops.source", "efficiency.conv.value") to its line.
func keyLines(n *yaml.Node) map[string]int {
	lines := map[string]int{}
	var walk func(n *yaml.Node, prefix string, depth int)
	walk = func(n *yaml.Node, prefix string, depth int) {
		if n == nil || n.Kind != yaml.MappingNode || depth > 3 {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := prefix + n.Content[i].Value
			lines[k] = n.Content[i].Line
			walk(n.Content[i+1], k+".", depth+1)
		}
	}
	walk(n, "", 0)
	return lines
}

func docLine(n *yaml.Node) int {
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		return n.Content[0].Line
	}
	return n.Line
}

var unknownRE = regexp.MustCompile(`^field (\S+) not found in type \S*\.(\w+)$`)

// yamlProblems turns a yaml.v3 error into problems that name the file; it
// adds a "did you mean" hint to unknown-field errors.
func yamlProblems(name string, err error) []Problem {
	var probs []Problem
	for _, m := range strictyaml.Messages(err) {
		p := Problem{File: name, Line: m.Line, Msg: m.Msg}
		p.Msg = strings.Replace(p.Msg, "into hwprofiles.Number", "into a number (want {value: ..., source: ...})", 1)
		if s := unknownRE.FindStringSubmatch(p.Msg); s != nil {
			what, keys := schemaOf(s[2])
			p.Msg = fmt.Sprintf("unknown field %q in %s%s", s[1], what, suggest.Hint(s[1], keys))
		}
		probs = append(probs, p)
	}
	return probs
}

// schemaOf names a decoded type for people and lists its YAML keys.
func schemaOf(typeName string) (string, []string) {
	var t reflect.Type
	var what string
	switch typeName {
	case "file":
		t, what = reflect.TypeFor[file](), "the top level"
	case "Device":
		t, what = reflect.TypeFor[Device](), "a device"
	case "Network":
		t, what = reflect.TypeFor[Network](), "a network"
	case "Number":
		t, what = reflect.TypeFor[Number](), "a number"
	case "Stack":
		t, what = reflect.TypeFor[Stack](), "a stack"
	default:
		return typeName, nil
	}
	var keys []string
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	return what, keys
}

// line is the line of one of the device's keys, else of the device.
func (d *Device) line(key string) int {
	if l, ok := d.lines[key]; ok {
		return l
	}
	return d.Line
}
