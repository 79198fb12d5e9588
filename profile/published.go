package profile

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// PublishedRow is one published batch-1 latency: a network timed on a
// device with an inference stack, and where the figure comes from.
type PublishedRow struct {
	Line      int    // line in the file, for error messages
	Row       string // rows sharing an id come from one published line
	Device    string // as the source names it, with clocks and threads when given
	Model     string // R18, R50, V16, MV2, MV3S, MV3L, EB0, EL0, MV1, PP-R50, ...
	Batch     int
	Precision string
	Stack     string
	Unit      string // CPU, GPU, DLA
	Timed     string // fw-only, e2e, throughput, ...
	LatencyMS float64
	Note      string
	Source    string
}

// publishedColumns is the header a published latency table must have.
var publishedColumns = []string{"row", "device", "model", "batch", "precision", "stack", "unit", "timed", "latency_ms", "note", "source"}

// ParsePublished reads a published latency table (CSV with the header
// row,device,model,batch,precision,stack,unit,timed,latency_ms,note,source).
// Every row needs a row id, a model, a positive batch and a positive
// latency; errors name the line.
func ParsePublished(r io.Reader, name string) ([]PublishedRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 0 // the header sets it; a wrong header is reported as such
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty; want the header %s", name, strings.Join(publishedColumns, ","))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if !slices.Equal(header, publishedColumns) {
		return nil, fmt.Errorf("%s:1: header is %s; want %s", name, strings.Join(header, ","), strings.Join(publishedColumns, ","))
	}
	var rows []PublishedRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		p := PublishedRow{Line: line, Row: rec[0], Device: rec[1], Model: rec[2], Precision: rec[4], Stack: rec[5],
			Unit: rec[6], Timed: rec[7], Note: rec[9], Source: rec[10]}
		if strings.TrimSpace(p.Row) == "" || strings.TrimSpace(p.Model) == "" {
			return nil, fmt.Errorf("%s:%d: row and model must not be empty", name, line)
		}
		if p.Batch, err = strconv.Atoi(rec[3]); err != nil || p.Batch < 1 {
			return nil, fmt.Errorf("%s:%d: batch %q is not a positive integer", name, line, rec[3])
		}
		if p.LatencyMS, err = strconv.ParseFloat(rec[8], 64); err != nil || !(p.LatencyMS > 0) || math.IsInf(p.LatencyMS, 0) {
			return nil, fmt.Errorf("%s:%d: latency_ms %q is not a positive number", name, line, rec[8])
		}
		rows = append(rows, p)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no rows after the header", name)
	}
	return rows, nil
}
