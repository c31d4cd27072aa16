// Command framecheck decodes Arrow IPC files the way Plutono 7.5's server does (alerting and
// server-side expressions): with grafana-plugin-sdk-go v0.88.0 data.UnmarshalArrowFrame on the
// June-2020 Go Arrow that SDK pins (contract 4.7). It prints one canonical JSON object per file
// so the Python tests can compare what Go sees with what was encoded.
//
// Usage: framecheck FILE...   or   echo '["a.arrow", "b.arrow"]' | framecheck
//
// Canonical values: 64-bit integers and times (UnixNano) as decimal strings, floats as JSON
// numbers except NaN/+Inf/-Inf as strings, nulls as null.
package main

import (
	"encoding/json"
	"fmt"
	"io/ioutil"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

type fieldOut struct {
	Name     string          `json:"name"`
	Type     string          `json:"type"`
	Nullable bool            `json:"nullable"`
	Labels   data.Labels     `json:"labels"`
	Config   json.RawMessage `json:"config"`
	Values   []interface{}   `json:"values"`
}

type seriesOut struct {
	Name   string            `json:"name"`
	Tags   map[string]string `json:"tags"`
	Points int               `json:"points"`
}

type frameOut struct {
	Path           string          `json:"path"`
	Error          *string         `json:"error"`
	Name           string          `json:"name"`
	RefID          string          `json:"refId"`
	Meta           json.RawMessage `json:"meta"`
	Fields         []fieldOut      `json:"fields"`
	TimeSeriesType string          `json:"timeSeriesType"`
	Series         []seriesOut     `json:"series"`
	SeriesError    *string         `json:"seriesError"`
}

func main() {
	paths := os.Args[1:]
	if len(paths) == 0 {
		if err := json.NewDecoder(os.Stdin).Decode(&paths); err != nil {
			fmt.Fprintln(os.Stderr, "framecheck: expected file paths as arguments or a JSON list on stdin:", err)
			os.Exit(2)
		}
	}
	out := make([]frameOut, 0, len(paths))
	for _, path := range paths {
		out = append(out, check(path))
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "framecheck:", err)
		os.Exit(1)
	}
}

func errorText(err error) *string {
	text := err.Error()
	return &text
}

// decode mirrors the host: Go Arrow 2020 panics on some types, which Plutono recovers from.
func decode(raw []byte) (frame *data.Frame, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return data.UnmarshalArrowFrame(raw)
}

func check(path string) frameOut {
	result := frameOut{Path: path}
	raw, err := ioutil.ReadFile(path)
	if err != nil {
		result.Error = errorText(err)
		return result
	}
	frame, err := decode(raw)
	if err != nil {
		result.Error = errorText(err)
		return result
	}
	result.Name, result.RefID = frame.Name, frame.RefID
	if frame.Meta != nil {
		result.Meta = marshal(frame.Meta)
	}
	result.Fields = make([]fieldOut, 0, len(frame.Fields))
	for _, field := range frame.Fields {
		converted := fieldOut{
			Name:     field.Name,
			Type:     goType(field.Type()),
			Nullable: field.Nullable(),
			Labels:   field.Labels,
			Values:   make([]interface{}, field.Len()),
		}
		if field.Config != nil {
			converted.Config = marshal(field.Config)
		}
		for i := 0; i < field.Len(); i++ {
			value, ok := field.ConcreteAt(i)
			if ok {
				converted.Values[i] = canonical(value)
			}
		}
		result.Fields = append(result.Fields, converted)
	}
	result.TimeSeriesType = frame.TimeSeriesSchema().Type.String()
	series, err := frameToSeries(frame)
	if err != nil {
		result.SeriesError = errorText(err)
	} else {
		result.Series = series
	}
	return result
}

// goType names the Go element type (e.g. "*uint8", "time.Time"); the SDK's own
// ItemTypeString misspells the unsigned types in v0.88.0.
func goType(fieldType data.FieldType) string {
	return fmt.Sprintf("%T", data.NewFieldFromFieldType(fieldType, 1).At(0))
}

func marshal(value interface{}) json.RawMessage {
	raw, err := json.Marshal(value)
	if err != nil {
		quoted, _ := json.Marshal("marshal error: " + err.Error())
		return quoted
	}
	return raw
}

func canonicalFloat(f float64) interface{} {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return f
}

func canonical(value interface{}) interface{} {
	switch v := value.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case float32:
		return canonicalFloat(float64(v))
	case float64:
		return canonicalFloat(v)
	case time.Time:
		return strconv.FormatInt(v.UnixNano(), 10)
	}
	return value // int8..int32, uint8..uint32, string, bool: exact as JSON
}

// frameToSeries follows the conversion Plutono 7.5 alerting applies to a decoded frame
// (pkg/services/alerting/conditions/query.go FrameToSeriesSlice): TimeSeriesSchema, then one
// series per value field, named from config.displayName, displayNameFromDS, "<name> {<labels>}"
// or the field name, with every value and time read through Field.FloatAt.
func frameToSeries(frame *data.Frame) ([]seriesOut, error) {
	schema := frame.TimeSeriesSchema()
	if schema.Type == data.TimeSeriesTypeNot {
		if len(frame.Fields) == 0 || (len(frame.Fields) == 1 && frame.Fields[0].Type().Time()) {
			return []seriesOut{{Name: frame.Name}}, nil // alerting reports "no data"
		}
		return nil, fmt.Errorf("input frame is not recognized as a time series")
	}
	timeField := frame.Fields[schema.TimeIndex]
	for i := 0; i < timeField.Len(); i++ {
		if _, err := timeField.FloatAt(i); err != nil {
			return nil, err
		}
	}
	series := make([]seriesOut, 0, len(schema.ValueIndices))
	for _, index := range schema.ValueIndices {
		field := frame.Fields[index]
		one := seriesOut{Name: field.Name, Points: field.Len()}
		switch {
		case field.Config != nil && field.Config.DisplayName != "":
			one.Name = field.Config.DisplayName
		case field.Config != nil && field.Config.DisplayNameFromDS != "":
			one.Name = field.Config.DisplayNameFromDS
		case len(field.Labels) > 0:
			one.Tags = field.Labels.Copy()
			one.Name = fmt.Sprintf("%v {%v}", field.Name, field.Labels.String())
		}
		for row := 0; row < field.Len(); row++ {
			if _, err := field.FloatAt(row); err != nil {
				return nil, fmt.Errorf("can not convert value %v to float: %w", field.At(row), err)
			}
		}
		series = append(series, one)
	}
	return series, nil
}
