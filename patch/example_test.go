package patch_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"

	"github.com/zyncio/zync/patch"
)

// A patch carries only what the seed lacks; Apply checks the seed, makes
// the target and checks it.
func Example() {
	ctx := context.Background()
	var lines []string
	for i := range 2000 {
		lines = append(lines, fmt.Sprintf("%d: %x", i, sha256.Sum256([]byte{byte(i), byte(i >> 8)})))
	}
	seed := []byte(strings.Join(lines, "\n"))
	lines[1000] = "line 1000: a new line in the middle"
	target := []byte(strings.Join(lines, "\n"))

	var p bytes.Buffer
	res, err := patch.Diff(ctx, bytes.NewReader(seed), int64(len(seed)), bytes.NewReader(target), int64(len(target)), &p, patch.DiffOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("target %d bytes, %.1f%% copied from the seed\n", res.TargetLength, 100*float64(res.Copied)/float64(res.TargetLength))
	fmt.Println("patch smaller than 300 bytes:", p.Len() < 300)

	var out bytes.Buffer
	if _, err := patch.Apply(ctx, bytes.NewReader(seed), int64(len(seed)), bytes.NewReader(p.Bytes()), &out, patch.ApplyOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("made the target:", bytes.Equal(out.Bytes(), target))

	// Any other seed is refused before anything is written.
	_, err = patch.Apply(ctx, bytes.NewReader(target), int64(len(target)), bytes.NewReader(p.Bytes()), &out, patch.ApplyOptions{})
	fmt.Println(errors.Is(err, patch.ErrWrongSeed))
	// Output:
	// target 140854 bytes, 100.0% copied from the seed
	// patch smaller than 300 bytes: true
	// made the target: true
	// true
}
