package patch

import "encoding/binary"

// opWriter builds one section's instruction and literal streams.
//
// An instruction is uvarint(literal length), uvarint(copy length) and, when
// the copy length is not zero, uvarint(displacement code): write that many
// literal bytes, then copy that many seed bytes starting at the current
// target offset plus the displacement. The code names one of the three
// most recently used displacements or gives a new one relative to the last
// (see reps). The recent displacements start at 0 in every section, so
// sections are independent of each other.
type opWriter struct {
	instr []byte
	lits  []byte
	reps  reps

	pendLit int // literal bytes appended but not yet in an instruction
	// A copy not yet written, so that adjacent copies with the same
	// displacement become one.
	hasCopy bool
	cLit    int
	cLen    int64
	cDisp   int64

	copied, litBytes int64
	ops              int64
}

func (w *opWriter) reset() {
	w.instr, w.lits = w.instr[:0], w.lits[:0]
	w.reps, w.pendLit, w.hasCopy = reps{}, 0, false
	w.copied, w.litBytes, w.ops = 0, 0, 0
}

// literal adds target bytes that come from the patch.
func (w *opWriter) literal(p []byte) {
	if len(p) == 0 {
		return
	}
	w.flushCopy()
	w.lits = append(w.lits, p...)
	w.pendLit += len(p)
	w.litBytes += int64(len(p))
}

// copy adds n target bytes taken from the seed at target offset + disp.
func (w *opWriter) copy(disp, n int64) {
	if n <= 0 {
		return
	}
	w.copied += n
	if w.hasCopy && w.pendLit == 0 && disp == w.cDisp {
		w.cLen += n
		return
	}
	w.flushCopy()
	w.hasCopy, w.cLit, w.cLen, w.cDisp = true, w.pendLit, n, disp
	w.pendLit = 0
}

func (w *opWriter) flushCopy() {
	if !w.hasCopy {
		return
	}
	w.instr = binary.AppendUvarint(w.instr, uint64(w.cLit))
	w.instr = binary.AppendUvarint(w.instr, uint64(w.cLen))
	w.instr = binary.AppendUvarint(w.instr, w.reps.encode(w.cDisp))
	w.hasCopy = false
	w.ops++
}

// finish writes what is pending; the streams are then complete.
func (w *opWriter) finish() {
	w.flushCopy()
	if w.pendLit > 0 {
		w.instr = binary.AppendUvarint(w.instr, uint64(w.pendLit))
		w.instr = binary.AppendUvarint(w.instr, 0)
		w.pendLit = 0
		w.ops++
	}
}

// op is one decoded instruction.
type op struct {
	lit  int64
	n    int64 // copy length
	disp int64
}

// numReps is how many recent displacements a code can name.
const numReps = 3

// reps are the most recently used displacements, most recent first. A
// displacement code c < numReps means reps[c] (which then moves to the
// front); a code c ≥ numReps means reps[0] + unzigzag(c − numReps), pushed
// to the front. zstd's repeat offsets work the same way: versions of a
// file alternate between a few displacements, and naming one costs a byte.
type reps [numReps]int64

func (r *reps) use(i int) {
	d := r[i]
	copy(r[1:i+1], r[:i])
	r[0] = d
}

func (r *reps) push(d int64) {
	copy(r[1:], r[:numReps-1])
	r[0] = d
}

// encode returns the code of displacement d and updates r.
func (r *reps) encode(d int64) uint64 {
	for i := range r {
		if r[i] == d {
			r.use(i)
			return uint64(i)
		}
	}
	step := d - r[0]
	r.push(d)
	return numReps + (uint64(step)<<1 ^ uint64(step>>63))
}

// decode returns the displacement code c names and updates r.
func (r *reps) decode(c uint64) (int64, error) {
	if c < numReps {
		r.use(int(c))
		return r[0], nil
	}
	z := c - numReps
	step := int64(z>>1) ^ -int64(z&1)
	if step > 2*MaxLength || step < -2*MaxLength {
		return 0, corrupt("instructions: displacement change %d out of range", step)
	}
	d := r[0] + step
	if d > MaxLength || d < -MaxLength {
		return 0, corrupt("instructions: displacement %d out of range", d)
	}
	r.push(d)
	return d, nil
}

// opReader decodes an instruction stream, checking every field against
// what the section has left.
type opReader struct {
	b    []byte
	reps reps
}

func (r *opReader) uvarint(what string, max int64) (int64, error) {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		return 0, corrupt("instructions: bad %s varint", what)
	}
	r.b = r.b[n:]
	if v > uint64(max) {
		return 0, corrupt("instructions: %s %d exceeds the %d bytes left", what, v, max)
	}
	return int64(v), nil
}

// next decodes the next instruction; spanLeft and litLeft are the target
// and literal bytes the section still has.
func (r *opReader) next(spanLeft, litLeft int64) (op, error) {
	var o op
	var err error
	if o.lit, err = r.uvarint("literal length", min(spanLeft, litLeft)); err != nil {
		return o, err
	}
	if o.n, err = r.uvarint("copy length", spanLeft-o.lit); err != nil {
		return o, err
	}
	if o.lit == 0 && o.n == 0 {
		return o, corrupt("instructions: empty instruction")
	}
	if o.n > 0 {
		c, n := binary.Uvarint(r.b)
		if n <= 0 {
			return o, corrupt("instructions: bad displacement varint")
		}
		r.b = r.b[n:]
		if o.disp, err = r.reps.decode(c); err != nil {
			return o, err
		}
	}
	return o, nil
}
