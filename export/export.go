package export

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"

	"github.com/mtlsplit/mtlsplit/codec"
	"github.com/mtlsplit/mtlsplit/onnx"
	"github.com/mtlsplit/mtlsplit/splitrun"
)

// Bundle is an exported split: the ONNX file of every tier that computes
// something, the Triton repository of the server tiers and the manifest
// describing them.
type Bundle struct {
	Manifest Manifest
	// Files holds every file by its path under the output directory, the
	// manifest included.
	Files map[string][]byte
	// Parts are the ONNX files' bytes by tier (nil for a tier that
	// computes nothing).
	Parts [][]byte
	// d is the deployment the bundle splits, seed its weights' seed.
	d    *splitrun.Deployment
	seed uint64
}

// Identity says which plan and model files a bundle was made from.
type Identity struct {
	// PlanFile and PlanSHA256 name the plan file and its bytes' hash.
	PlanFile   string
	PlanSHA256 string
	// ModelSHA256 is the source ONNX file's hash ("" for a zoo model).
	ModelSHA256 string
}

// Build splits deployment d (its graph with the weights of seed) into one
// ONNX file per tier that computes something and describes them.
func Build(d *splitrun.Deployment, seed uint64, id Identity) (*Bundle, error) {
	w, err := d.Weights(seed)
	if err != nil {
		return nil, err
	}
	b := &Bundle{Files: map[string][]byte{}, d: d, seed: seed}
	names := tensorNames(d)
	parts := splitParts(d, names)
	m := newManifest(d, seed, id)
	for k, p := range parts {
		if p == nil {
			b.Parts = append(b.Parts, nil)
			continue
		}
		data, err := onnx.Encode(d.Graph, w, onnx.ExportOptions{Part: p, DynamicBatch: true,
			Metadata: map[string]string{"mtlsplit.plan_sha256": id.PlanSHA256, "mtlsplit.tier": strconv.Itoa(k), "mtlsplit.model_hash": d.Plan.Model.Hash}})
		if err != nil {
			return nil, fmt.Errorf("tier %d: %w", k, err)
		}
		b.Parts = append(b.Parts, data)
		name := partFile(d, k)
		b.Files[name] = data
		m.Files = append(m.Files, m.file(d, k, name, p, data))
	}
	for h, hop := range d.Hops {
		m.Wire = append(m.Wire, m.hop(d, h+1, hop, names))
	}
	for k := 1; k < d.NumTiers(); k++ {
		if parts[k] == nil {
			continue
		}
		model := tritonModel(d, k)
		b.Files["triton/"+model+"/1/model.onnx"] = b.Parts[k]
		cfg := tritonConfig(model, m.Files[len(m.Files)-1])
		b.Files["triton/"+model+"/config.pbtxt"] = cfg
		m.Triton = append(m.Triton, TritonModel{Name: model, Tier: k, Config: "triton/" + model + "/config.pbtxt"})
	}
	b.Manifest = m
	return b, nil
}

// partFile names tier k's file: edge.onnx, server.onnx, or server_k.onnx
// behind more than one server tier.
func partFile(d *splitrun.Deployment, k int) string { return tritonModel(d, k) + ".onnx" }

// tritonModel names tier k's part as a model: edge, server or server_k.
func tritonModel(d *splitrun.Deployment, k int) string {
	switch {
	case k == 0:
		return "edge"
	case d.NumTiers() == 2:
		return "server"
	}
	return "server_" + strconv.Itoa(k)
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_]+`)

// tensorNames names every tensor a hop carries after the node making it
// ("cut_features_3"), in characters any serving stack takes; the node ID
// tells two apart that would read the same.
func tensorNames(d *splitrun.Deployment) map[int]string {
	names := map[int]string{}
	taken := map[string]bool{onnx.InputName: true}
	for _, t := range d.Placement.Sends {
		if _, ok := names[t.Node]; ok {
			continue
		}
		n := "cut_" + unsafeChars.ReplaceAllString(d.Graph.Nodes[t.Node].Name, "_")
		if taken[n] {
			n += "_" + strconv.Itoa(t.Node)
		}
		taken[n] = true
		names[t.Node] = n
	}
	return names
}

// splitParts is each tier's part of the graph: the nodes it runs, the
// tensors it receives over the hop into it (the image on the device), the
// tensors it sends over the hop after it and the results of the heads it
// gives. A tier that computes and gives nothing has no part.
func splitParts(d *splitrun.Deployment, names map[int]string) []*onnx.Part {
	g, pl := d.Graph, d.Placement
	parts := make([]*onnx.Part, d.NumTiers())
	for k := range parts {
		p := &onnx.Part{Nodes: make([]bool, len(g.Nodes))}
		for id := 1; id < len(g.Nodes); id++ {
			p.Nodes[id] = pl.NodeTier[id] == k
		}
		if k == 0 {
			p.Inputs = []onnx.Port{{Node: 0, Name: onnx.InputName}}
		} else {
			for _, t := range pl.Hop(k) {
				p.Inputs = append(p.Inputs, onnx.Port{Node: t.Node, Name: names[t.Node]})
			}
		}
		for _, t := range pl.Hop(k + 1) {
			p.Outputs = append(p.Outputs, onnx.Port{Node: t.Node, Name: names[t.Node]})
		}
		for t, h := range g.Heads {
			if pl.HeadTier[t] == k {
				p.Outputs = append(p.Outputs, onnx.Port{Node: h.Output, Name: d.Plan.Model.Tasks[t].Name})
			}
		}
		if len(p.Outputs) > 0 {
			parts[k] = p
		}
	}
	return parts
}

// SHA256 is the lowercase hex SHA-256 of b, as the manifest records files.
func SHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// wireEncoding is how tensor node travels over its hop in the deployment.
func wireEncoding(d *splitrun.Deployment, hop, node int) codec.Encoding {
	for _, t := range d.Hops[hop-1] {
		if t.Node == node {
			return t.Encoding
		}
	}
	return ""
}
