package plan

import (
	"fmt"
	"slices"
	"strings"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/internal/strictyaml"
)

// knownEncoding reports whether e is a wire encoding, optionally followed by
// the lossless stage.
func knownEncoding(e string) bool {
	return codec.Encoding(e).Bytes(1) > 0 && strings.Count(e, zstd) <= 1
}

func validEncodings() []string { return append(codec.Names(), string(codec.Raw)) }

// checkEncoding checks a choice's encoding: a wire encoding, none or mixed.
func checkEncoding(r *strictyaml.Report, path, e string) {
	if e != encNone && e != encMixed && !knownEncoding(e) {
		r.OneOf(path, e, append(validEncodings(), encNone, encMixed)...)
	}
}

// uplink are the indices of the tensors the device's uplink carries.
func uplink(tensors []CutTensor) []int {
	var idx []int
	for i, t := range tensors {
		if t.Hop == 1 {
			idx = append(idx, i)
		}
	}
	return idx
}

func uplinkBytes(tensors []CutTensor) int64 {
	var n int64
	for _, i := range uplink(tensors) {
		n += tensors[i].Bytes
	}
	return n
}

func (p *Plan) checkChoice(r *strictyaml.Report) {
	c := p.Choice
	p.checkPlacement(r, "choice", "cut_tensors", c.Cut, c.Encoding, c.Heads, c.NodeTiers, p.CutTensors)
	for _, b := range c.EdgeBlocks {
		if slices.Contains(c.ServerBlocks, b) {
			r.Addf("choice.server_blocks", "lists %s, which choice.edge_blocks lists too", b)
		}
	}
}

// checkPlacement checks a placement (node tiers, heads, tensors) and its
// labels (cut, encoding) against each other; path is where the labels and
// node tiers are, tpath where the tensors are.
func (p *Plan) checkPlacement(r *strictyaml.Report, path, tpath, cut, enc string, heads map[string]string, nodeTiers []int, tensors []CutTensor) {
	if cut == "" {
		r.Addf(path+".cut", "is empty")
	}
	checkEncoding(r, path+".encoding", enc)
	p.checkHeads(r, path+".heads", heads)
	p.checkNodeTiers(r, path+".node_tiers", nodeTiers)
	p.checkTensors(r, tpath, nodeTiers, tensors)
	sent := uplink(tensors)
	switch enc {
	case encNone:
		if len(sent) > 0 {
			r.Addf(path+".encoding", "is none, but %s lists %d tensor(s) on the device's uplink", tpath, len(sent))
		}
		for _, t := range p.Model.Tasks {
			if s, ok := heads[t.Name]; ok && len(p.Tiers) > 0 && s != p.Tiers[0].Name {
				r.Addf(path+".heads."+t.Name, "is %q, but nothing leaves the device (%s.encoding none)", s, path)
			}
		}
	case encMixed:
		encs := map[string]bool{}
		for _, i := range sent {
			encs[tensors[i].Encoding] = true
		}
		if len(encs) < 2 {
			r.Addf(path+".encoding", "is mixed, but the tensors on the device's uplink use %d encoding(s)", len(encs))
		}
	default:
		if len(sent) == 0 {
			r.Addf(path+".encoding", "is %s, but %s lists no tensor on the device's uplink (want encoding none)", enc, tpath)
		}
		for _, i := range sent {
			if e := tensors[i].Encoding; e != enc {
				r.Addf(fmt.Sprintf("%s[%d].encoding", tpath, i), "%s does not match %s.encoding %s", e, path, enc)
			}
		}
	}
	if cut == "input" && (len(sent) != 1 || tensors[sent[0]].Node != 0) {
		r.Addf(path+".cut", "is input, but the device's uplink does not carry the input image (node 0) alone")
	}
}

// checkNodeTiers checks that every node is on a tier and the input on the
// device.
func (p *Plan) checkNodeTiers(r *strictyaml.Report, path string, nodeTiers []int) {
	if len(nodeTiers) == 0 {
		r.Addf(path, "is empty (version %d plans place every node on a tier)", Version)
		return
	}
	if nodeTiers[0] != 0 {
		r.Addf(path+"[0]", "is %d, but the input (node 0) is on the device (tier 0)", nodeTiers[0])
	}
	for i, k := range nodeTiers {
		if k < 0 || k >= p.numTiers() {
			r.Addf(fmt.Sprintf("%s[%d]", path, i), "is %d, but the plan has tiers 0 to %d", k, p.numTiers()-1)
		}
	}
}

// checkTensors checks tensors sent over hops against the node tiers: each
// leaves a node on a tier before its hop, in a known encoding, with the
// bytes that encoding gives its shape.
func (p *Plan) checkTensors(r *strictyaml.Report, tpath string, nodeTiers []int, tensors []CutTensor) {
	tiers := p.numTiers()
	for i, t := range tensors {
		path := fmt.Sprintf("%s[%d]", tpath, i)
		if t.Name == "" {
			r.Addf(path+".name", "is empty")
		}
		if t.Hop < 1 || t.Hop >= tiers {
			r.Addf(path+".hop", "is %d, but the plan has hops 1 to %d", t.Hop, tiers-1)
		}
		if t.Node < 0 || t.Node >= len(nodeTiers) {
			r.Addf(path+".node", "is %d, not a node of the graph (0 to %d)", t.Node, len(nodeTiers)-1)
		} else if k := nodeTiers[t.Node]; k >= t.Hop {
			r.Addf(path+".hop", "is %d, but node %d runs on tier %d, behind that hop", t.Hop, t.Node, k)
		}
		if i > 0 && (t.Hop < tensors[i-1].Hop || (t.Hop == tensors[i-1].Hop && t.Node <= tensors[i-1].Node)) {
			r.Addf(path, "is out of wire order (by hop, then node) or repeated")
		}
		if !knownEncoding(t.Encoding) {
			r.OneOf(path+".encoding", t.Encoding, validEncodings()...)
			continue
		}
		if (t.Encoding == string(codec.Raw)) != (t.Node == 0) {
			r.Addf(path+".encoding", "is %s for node %d, but uint8 is the encoding of the input image (node 0) only", t.Encoding, t.Node)
		}
		checkBytes(r, path, t)
	}
}

// checkBytes checks a tensor's bytes against its encoding and shape.
func checkBytes(r *strictyaml.Report, path string, t CutTensor) {
	shape := t.Shape
	if len(shape) == 0 {
		r.Addf(path+".shape", "is missing (a plan gives every cut tensor's shape)")
		return
	}
	elems := int64(1)
	for _, d := range shape {
		if d < 1 || elems*int64(d) > maxElems {
			r.Addf(path+".shape", "%v is not a tensor shape (positive dimensions, at most 2^40 values)", shape)
			return
		}
		elems *= int64(d)
	}
	base := strings.TrimSuffix(t.Encoding, zstd)
	want := codec.Encoding(base).Bytes(elems)
	if base != t.Encoding {
		// The lossless stage's size is measured; zstd grows incompressible
		// data by at most a frame header and 3 bytes per 128 KiB block.
		if limit := want + 32 + 3*(want/(128<<10)+1); t.Bytes < 1 || t.Bytes > limit {
			r.Addf(path+".bytes", "%d is not a size %s can have for a %s tensor (1 to %d)", t.Bytes, t.Encoding, dims(shape), limit)
		}
		return
	}
	if t.Bytes != want {
		r.Addf(path+".bytes", "%d does not match encoding %s of a %s tensor (%d)", t.Bytes, t.Encoding, dims(shape), want)
	}
}

func dims(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "×")
}
