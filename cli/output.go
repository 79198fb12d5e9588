package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"gopkg.in/yaml.v3"

	"github.com/mtlsplit/mtlsplit/internal/atomicfile"
	"github.com/mtlsplit/mtlsplit/internal/suggest"
)

// checkFormat validates an -o value against the formats a command offers.
func checkFormat(got string, valid ...string) error {
	for _, v := range valid {
		if got == v {
			return nil
		}
	}
	return fmt.Errorf("unknown output format %q%s", got, suggest.Hint(got, valid))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return internal(enc.Encode(v))
}

func writeYAML(w io.Writer, v any) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return internal(err)
	}
	return internal(enc.Close())
}

// saveYAML writes v as YAML to path atomically (never over a file unless
// force) and says so on stderr.
func saveYAML(io *IO, path string, v any, force bool) error {
	var buf bytes.Buffer
	if err := writeYAML(&buf, v); err != nil {
		return err
	}
	if err := atomicfile.Write(path, buf.Bytes(), force); err != nil {
		return err
	}
	fmt.Fprintf(io.Err, "wrote %s\n", path)
	return nil
}

func writeCSV(w io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return internal(err)
	}
	if err := cw.WriteAll(rows); err != nil {
		return internal(err)
	}
	return nil
}

// writeTable prints aligned columns for people.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if header != nil {
		fmt.Fprintln(tw, strings.Join(header, "\t"))
	}
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return internal(tw.Flush())
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "×")
}

// human formats a count with a unit prefix (1.81G, 11.2M).
func human(n float64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.3gG", n/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.3gM", n/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.3gk", n/1e3)
	}
	return fmt.Sprintf("%.0f", n)
}
