package codec

import (
	"strings"
	"testing"
)

func TestBytes(t *testing.T) {
	// resnet18 layer3 at 224: 256×14×14 = 50176 values.
	const n = 50176
	tests := []struct {
		enc  Encoding
		want int64
	}{
		{FP32, 4 * n},
		{FP16, 2 * n},
		{Int8, n + 8},
		{Int4, n/2 + 8},
		{Int4 + "+zstd", n/2 + 8}, // before compression: an upper bound
		{Raw, n},
		{"fp8", 0},
	}
	for _, tc := range tests {
		if got := tc.enc.Bytes(n); got != tc.want {
			t.Errorf("%s: %d bytes, want %d", tc.enc, got, tc.want)
		}
	}
	if got := Int4.Bytes(3); got != 2+8 {
		t.Errorf("odd int4 count rounds up: %d", got)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    []Encoding
		wantErr string
	}{
		{in: "fp32, INT8,fp32", want: []Encoding{FP32, Int8}},
		{in: "int8+zstd,fp16", want: []Encoding{"int8+zstd", FP16}},
		{in: "fp8", wantErr: `unknown encoding "fp8"`},
		{in: "", wantErr: `unknown encoding ""`},
		{in: "uint8", wantErr: `unknown encoding "uint8"`},
		{in: "fp32,,int4", wantErr: `unknown encoding ""`},
		{in: "int8+zstd+zstd", wantErr: `unknown encoding "int8+zstd+zstd"`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("entry %d: %s, want %s", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestCompressed(t *testing.T) {
	e := Encoding("int8+zstd")
	if !e.Compressed() || e.Base() != Int8 || !e.Lossy() {
		t.Errorf("%s: compressed %v, base %s, lossy %v", e, e.Compressed(), e.Base(), e.Lossy())
	}
	if FP16.Compressed() || FP16.Base() != FP16 || FP16.Lossy() {
		t.Errorf("fp16: compressed %v, base %s, lossy %v", FP16.Compressed(), FP16.Base(), FP16.Lossy())
	}
}
