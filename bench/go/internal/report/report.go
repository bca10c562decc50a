// Package report prints the one-line JSON result that every workload program emits
// (see /work/shared/anchors/WORKLOADS.md, "Program contract"): the common fields
// workload, impl, ns_per_op, ops, check, followed by workload-specific extras, in order.
package report

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Field is one extra key/value pair; Val may be an integer, a float64 or a string.
type Field struct {
	Key string
	Val interface{}
}

// F builds a Field.
func F(key string, val interface{}) Field { return Field{key, val} }

// Ms converts a duration to fractional milliseconds.
func Ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// Print writes the result line to stdout. ns_per_op is elapsed/ops.
func Print(workload string, elapsed time.Duration, ops, check int64, extra ...Field) {
	fields := []Field{
		{"workload", workload},
		{"impl", "go"},
		{"ns_per_op", float64(elapsed.Nanoseconds()) / float64(ops)},
		{"ops", ops},
		{"check", check},
	}
	fields = append(fields, extra...)
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = strconv.Quote(f.Key) + ": " + format(f.Val)
	}
	fmt.Fprintln(os.Stdout, "{"+strings.Join(parts, ", ")+"}")
}

func format(v interface{}) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', 3, 64)
	case string:
		return strconv.Quote(x)
	case int, int64, int32, uint64:
		return fmt.Sprintf("%d", x)
	default:
		panic(fmt.Sprintf("report: unsupported value %T", v))
	}
}
