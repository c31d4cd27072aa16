module plutonoplugin.test/interop/goencode

go 1.21

require github.com/grafana/grafana-plugin-sdk-go v0.88.0

require (
	github.com/apache/arrow/go/arrow v0.0.0-20200629181129-68b1273cbbf7 // indirect
	github.com/cheekybits/genny v1.0.0 // indirect
	github.com/google/flatbuffers v1.11.0 // indirect
	github.com/google/go-cmp v0.5.3 // indirect
	github.com/mattetti/filebuffer v1.0.1 // indirect
	github.com/mattn/go-runewidth v0.0.7 // indirect
	github.com/olekukonko/tablewriter v0.0.4 // indirect
	golang.org/x/xerrors v0.0.0-20191204190536-9bdfabe68543 // indirect
)
