package model

// Leaves returns the backbone's module nodes in execution order — the layers
// torchvision's forward hooks would see, a reused module once per call.
func Leaves(g *Graph) []Node {
	var out []Node
	for _, n := range g.Nodes {
		if n.Op.IsModule() && n.Task < 0 {
			out = append(out, n)
		}
	}
	return out
}
