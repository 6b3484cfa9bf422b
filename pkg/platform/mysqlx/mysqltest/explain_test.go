package mysqltest_test

import (
	"strings"
	"testing"

	"simplemessenger/platform/mysqlx/mysqltest"
)

func TestExplainAndAnalyzeReportTheIndexAndTheRowsRead(t *testing.T) {
	t.Parallel()
	db, _ := mysqltest.New(t, nil)
	var values []string
	for i := range 200 {
		values = append(values, "('c', 'e"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26))+"')")
	}
	if _, err := db.Exec("INSERT INTO inbox (consumer, event_id) VALUES " + strings.Join(values, ",")); err != nil {
		t.Fatal(err)
	}
	const query = "SELECT event_id FROM inbox i WHERE consumer = ? ORDER BY event_id LIMIT 5"
	p, ok := mysqltest.Table(mysqltest.Explain(t, db, query, "c"), "i")
	if !ok || p.Key != "PRIMARY" || p.Type != "ref" || strings.Contains(p.Extra, "filesort") || p.Rows < 1 {
		t.Errorf("plan %+v", p)
	}
	a, ok := mysqltest.Table(mysqltest.Analyze(t, db, query, "c"), "i")
	if !ok || a.ReadRows != 5 {
		t.Errorf("the walk stops at the limit: %+v", a)
	}
	if _, ok := mysqltest.Table(mysqltest.Explain(t, db, query, "c"), "nope"); ok {
		t.Error("a table not in the plan was found")
	}
}
