package optimizer

import "github.com/mtlsplit/mtlsplit/codec"

// load is what a placement puts on each tier and hop: all the timing of a
// candidate depends on, so that a block-level choice can be costed from
// prefix sums without placing every unit.
type load struct {
	work     []float64 // per tier: everything it runs, codecs included
	own      []float64 // per tier: its part of the heads whose result it gives
	upBytes  []int64   // per hop h (index h, into tier h): bytes sent
	resBytes []int64   // per hop h: results returned over it
	edgeTask []float64 // per task finished on the device: its device time
	headTier []int     // per task: the tier giving its result
	sent     []sent    // every tensor crossing a hop
}

// sent is unit's output crossing hop (into tier hop) in encoding enc.
type sent struct {
	unit, hop int
	enc       codec.Encoding
}

func newLoad(tiers, tasks int) load {
	return load{work: make([]float64, tiers), own: make([]float64, tiers), upBytes: make([]int64, tiers),
		resBytes: make([]int64, tiers), edgeTask: make([]float64, tasks), headTier: make([]int, tasks)}
}

// send puts unit i's output on hop h in encoding e: its bytes, encoding on
// the tier before and decoding on the tier after.
func (ld *load) send(p *Problem, u *units, i, h int, e codec.Encoding) {
	n, _ := p.tensorBytes(u, i, e)
	ld.upBytes[h] += n
	ld.work[h-1] += codecMS(p.side(h-1), e, u.elems[i], false)
	ld.work[h] += codecMS(p.side(h), e, u.elems[i], true)
	ld.sent = append(ld.sent, sent{unit: i, hop: h, enc: e})
}

// headPart adds ms of task t's head run on tier k, the tier giving its
// result.
func (ld *load) headPart(t, k int, ms float64) {
	ld.own[k] += ms
	if k == 0 {
		ld.edgeTask[t] += ms
	}
}

// result records that task t's result comes from tier k and returns over
// every hop back to the device.
func (ld *load) result(p *Problem, t, k int) {
	ld.headTier[t] = k
	for h := 1; h <= k; h++ {
		ld.resBytes[h] += resultBytes(p.Graph.Heads[t].Classes)
	}
}

// loadOf tallies a placement unit by unit.
func (p *Problem) loadOf(u *units, pl unitPlacement) load {
	nk := p.numTiers()
	ld := newLoad(nk, len(u.heads))
	for i := range u.name {
		k := pl.Tier[i]
		ld.work[k] += u.ms[k][i]
		for h := 1; h < nk; h++ {
			if e := pl.Encoding[i][h-1]; e != "" {
				ld.send(p, u, i, h, e)
			}
		}
	}
	for t, hu := range u.heads {
		k := pl.Tier[u.last(t)]
		for _, i := range hu {
			if pl.Tier[i] == k {
				ld.headPart(t, k, u.ms[k][i])
			}
		}
		ld.result(p, t, k)
	}
	return ld
}
