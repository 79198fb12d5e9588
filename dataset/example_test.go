package dataset_test

import (
	"fmt"
	"image"
	"log"
	"os"

	"github.com/mtlsplit/mtlsplit/dataset"
)

// A set written by Writer and read back: 8×8 images, shorter side to 8 and
// a centre crop to 6×6, normalized per channel.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "dataset-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	w, err := dataset.NewWriter(dir, []string{"shape", "color"}, false)
	if err != nil {
		log.Fatal(err)
	}
	for i := range 5 {
		img := image.NewGray(image.Rect(0, 0, 8, 8))
		for k := range img.Pix {
			img.Pix[k] = uint8(40 * i)
		}
		if err := w.Add(fmt.Sprintf("train/%d.png", i), img, []int{i % 2, i}); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	set, err := dataset.Open(dir, dataset.Options{Preprocess: dataset.Preprocess{
		Shape:  []int{3, 6, 6},
		Resize: dataset.ResizeShorter, ShorterPx: 8,
		Mean: []float64{0.5, 0.5, 0.5}, Std: []float64{0.5, 0.5, 0.5},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer set.Close()
	fmt.Println(set.Len(), set.Tasks(), set.Classes())
	fmt.Println(set.Preprocess())

	it := set.Iter(2, nil)
	defer it.Close()
	for it.Next() {
		fmt.Printf("items %d–%d labels %v first value %.3f\n", it.Start(), it.Start()+it.N()-1, it.Labels(), it.X()[0])
	}
	if err := it.Err(); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 5 [shape color] [2 5]
	// image → RGB [0,1] → shorter side 8 px, centre crop 6×6 (bilinear) → mean 0.5,0.5,0.5 std 0.5,0.5,0.5 → NCHW float32 3×6×6
	// items 0–1 labels [[0 0] [1 1]] first value -1.000
	// items 2–3 labels [[0 2] [1 3]] first value -0.373
	// items 4–4 labels [[0 4]] first value 0.255
}
