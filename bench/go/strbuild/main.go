// strbuild: five ways to build a 1,000-piece string (each piece the 8 bytes "abcdefgh"):
// s += piece, s = fmt.Sprintf("%s%s", s, piece), bytes.Buffer, strings.Builder, and
// append to a []byte then string(b). Each way builds its string reps[way] times; the extra
// fields are ns per built string for each way, ns_per_op their mean. check = total bytes
// built = 8000 * (200 + 200 + 10000 + 10000 + 10000) = 243200000.
// The Go counterpart of bench/workloads/strbuild.cpp.
package main

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"gort-bench/internal/report"
)

const pieces = 1000
const piece = "abcdefgh"

var reps = [5]int{200, 200, 10000, 10000, 10000}

var sink string

func plus() string {
	s := ""
	for i := 0; i < pieces; i++ {
		s += piece
	}
	return s
}

func sprintf() string {
	s := ""
	for i := 0; i < pieces; i++ {
		s = fmt.Sprintf("%s%s", s, piece)
	}
	return s
}

func buffer() string {
	var b bytes.Buffer
	for i := 0; i < pieces; i++ {
		b.WriteString(piece)
	}
	return b.String()
}

func builder() string {
	var b strings.Builder
	for i := 0; i < pieces; i++ {
		b.WriteString(piece)
	}
	return b.String()
}

func appendBytes() string {
	var b []byte
	for i := 0; i < pieces; i++ {
		b = append(b, piece...)
	}
	return string(b)
}

func main() {
	ways := [5]func() string{plus, sprintf, buffer, builder, appendBytes}
	var ns [5]float64
	var check int64
	var ops int64
	var total time.Duration
	for w, f := range ways {
		t0 := time.Now()
		for r := 0; r < reps[w]; r++ {
			sink = f()
			check += int64(len(sink))
		}
		d := time.Since(t0)
		total += d
		ns[w] = float64(d.Nanoseconds()) / float64(reps[w])
		ops += int64(reps[w])
	}
	mean := (ns[0] + ns[1] + ns[2] + ns[3] + ns[4]) / 5
	report.Print("strbuild", time.Duration(mean*float64(ops)), ops, check,
		report.F("plus_ns", ns[0]), report.F("sprintf_ns", ns[1]), report.F("buffer_ns", ns[2]),
		report.F("builder_ns", ns[3]), report.F("append_ns", ns[4]), report.F("total_ms", report.Ms(total)))
}
