// Command goencode times grafana-plugin-sdk-go v0.88.0's frame encoder for
// the benchmark (tests/bench): a wide frame of -rows rows (time + float64)
// built from Go slices, encoded with Frame.MarshalArrow, -runs times. It
// prints one JSON object with the median, min and max in milliseconds, both
// for MarshalArrow alone and for NewFrame + MarshalArrow (from the slices to
// bytes, which is what the Python side's Frame(...).encode() does).
//
// With -longtowide FILE it instead reads a long frame (an Arrow file), converts it with
// data.LongToWide -runs times (after one warm-up) and prints the median, min and max; -fill
// chooses the FillMissing mode (none, null, previous or value:<number>) and -out FILE writes
// the wide frame (MarshalArrow) so tests can compare it with ours.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

type stats struct {
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	MaxMS    float64 `json:"max_ms"`
}

func summarise(samples []time.Duration) stats {
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	n := len(samples)
	median := samples[n/2]
	if n%2 == 0 {
		median = (samples[n/2-1] + samples[n/2]) / 2
	}
	return stats{MedianMS: ms(median), MinMS: ms(samples[0]), MaxMS: ms(samples[n-1])}
}

func main() {
	rows := flag.Int("rows", 1000000, "rows in the frame")
	runs := flag.Int("runs", 7, "timed runs (after one warm-up)")
	longToWide := flag.String("longtowide", "", "time data.LongToWide on this long frame file")
	fill := flag.String("fill", "null", "LongToWide fill mode: none, null, previous, value:<n>")
	out := flag.String("out", "", "with -longtowide: write the wide frame here")
	flag.Parse()
	if *longToWide != "" {
		if err := timeLongToWide(*longToWide, *fill, *out, *runs); err != nil {
			fmt.Fprintln(os.Stderr, "goencode:", err)
			os.Exit(1)
		}
		return
	}
	if *rows < 0 || *runs < 1 {
		fmt.Fprintln(os.Stderr, "goencode: -rows must be >= 0 and -runs >= 1")
		os.Exit(2)
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	times := make([]time.Time, *rows)
	values := make([]float64, *rows)
	for i := range times {
		times[i] = start.Add(time.Duration(i) * time.Second)
		values[i] = float64(i) * 0.5
	}
	build := func() *data.Frame {
		return data.NewFrame("bench", data.NewField("time", nil, times), data.NewField("value", nil, values))
	}
	encoded, err := build().MarshalArrow()
	if err != nil {
		fmt.Fprintln(os.Stderr, "goencode: MarshalArrow:", err)
		os.Exit(1)
	}
	marshalOnly := make([]time.Duration, 0, *runs)
	withBuild := make([]time.Duration, 0, *runs)
	for i := 0; i < *runs; i++ {
		began := time.Now()
		frame := build()
		built := time.Now()
		if _, err := frame.MarshalArrow(); err != nil {
			fmt.Fprintln(os.Stderr, "goencode: MarshalArrow:", err)
			os.Exit(1)
		}
		done := time.Now()
		marshalOnly = append(marshalOnly, done.Sub(built))
		withBuild = append(withBuild, done.Sub(began))
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]interface{}{
		"rows": *rows, "runs": *runs, "bytes": len(encoded),
		"marshal_arrow": summarise(marshalOnly), "new_frame_and_marshal": summarise(withBuild),
	})
}

func fillMissing(mode string) (*data.FillMissing, error) {
	switch {
	case mode == "none":
		return nil, nil
	case mode == "null":
		return &data.FillMissing{Mode: data.FillModeNull}, nil
	case mode == "previous":
		return &data.FillMissing{Mode: data.FillModePrevious}, nil
	case strings.HasPrefix(mode, "value:"):
		value, err := strconv.ParseFloat(strings.TrimPrefix(mode, "value:"), 64)
		if err != nil {
			return nil, fmt.Errorf("-fill %s: %v", mode, err)
		}
		return &data.FillMissing{Mode: data.FillModeValue, Value: value}, nil
	}
	return nil, fmt.Errorf("-fill must be none, null, previous or value:<n>, got %q", mode)
}

func timeLongToWide(path, mode, out string, runs int) error {
	raw, err := ioutil.ReadFile(path)
	if err != nil {
		return err
	}
	long, err := data.UnmarshalArrowFrame(raw)
	if err != nil {
		return err
	}
	fill, err := fillMissing(mode)
	if err != nil {
		return err
	}
	wide, err := data.LongToWide(long, fill) // warm-up, and the frame written with -out
	if err != nil {
		return fmt.Errorf("LongToWide: %v", err)
	}
	samples := make([]time.Duration, 0, runs)
	for i := 0; i < runs; i++ {
		began := time.Now()
		if _, err := data.LongToWide(long, fill); err != nil {
			return fmt.Errorf("LongToWide: %v", err)
		}
		samples = append(samples, time.Since(began))
	}
	if out != "" {
		encoded, err := wide.MarshalArrow()
		if err != nil {
			return fmt.Errorf("MarshalArrow: %v", err)
		}
		if err := ioutil.WriteFile(out, encoded, 0o644); err != nil {
			return err
		}
	}
	rows, _ := long.RowLen()
	return json.NewEncoder(os.Stdout).Encode(map[string]interface{}{
		"rows": rows, "runs": runs, "wide_fields": len(wide.Fields), "long_to_wide": summarise(samples),
	})
}
