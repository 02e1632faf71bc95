package check

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestReportSchema: the reports Run makes are valid under
// report.schema.json, and the schema refuses what it should.
func TestReportSchema(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ReportJSONSchema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("report.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("report.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	f := world(t)
	opts := options(f, t, nil)
	for _, req := range []*Requirements{nil, {Require: []string{"vex", "support-period"}, Until: "2031-12-31"}} {
		opts.Requirements = req
		for _, file := range []string{laravelSBOM, cpythonSBOM} {
			res, err := Run(context.Background(), readReal(t, file), opts)
			if err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(res.Report)
			if err != nil {
				t.Fatal(err)
			}
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(v); err != nil {
				t.Errorf("%s: the report does not follow its schema: %v", file, err)
			}
			// A member the schema does not know is refused.
			var m map[string]any
			json.Unmarshal(b, &m)
			m["verdict"] = "ok"
			if err := sch.Validate(m); err == nil {
				t.Errorf("the schema accepts an unknown member")
			}
		}
	}
}
