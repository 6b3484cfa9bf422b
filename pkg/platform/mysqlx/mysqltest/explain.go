package mysqltest

import (
	"database/sql"
	"fmt"
	"testing"
)

// PlanRow is one table's line of a query plan, in join order.
type PlanRow struct {
	Table string
	// Type is the access type: const, eq_ref, ref, range, index (a full index scan), ALL (a table scan).
	Type  string
	Key   string
	Extra string
	// Rows is the optimizer's estimate of the rows it will read.
	Rows float64
	// ReadRows is what the execution really read (Analyze only; r_rows).
	ReadRows float64
}

// Explain returns the plan the server chooses for query with args (EXPLAIN), one row per table. Repository
// tests use it to prove that a query reads the index they mean, in its order (no "Using filesort").
func Explain(t testing.TB, db *sql.DB, query string, args ...any) []PlanRow {
	t.Helper()
	return plan(t, db, "EXPLAIN", query, args)
}

// Analyze runs query with args under MariaDB's ANALYZE statement and returns its plan with the rows each
// table really read: proof that LIMIT stops an index walk early, which an estimate cannot give.
func Analyze(t testing.TB, db *sql.DB, query string, args ...any) []PlanRow {
	t.Helper()
	return plan(t, db, "ANALYZE", query, args)
}

// Table returns the plan's row for table (its name or alias in the query); ok is false when it has none.
func Table(rows []PlanRow, table string) (row PlanRow, ok bool) {
	for _, r := range rows {
		if r.Table == table {
			return r, true
		}
	}
	return PlanRow{}, false
}

func plan(t testing.TB, db *sql.DB, statement, query string, args []any) []PlanRow {
	t.Helper()
	rows, err := db.Query(statement+" "+query, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", statement, query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []PlanRow
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		dest := make([]any, len(cols))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		var r PlanRow
		for i, col := range cols {
			v := vals[i].String
			switch col {
			case "table":
				r.Table = v
			case "type":
				r.Type = v
			case "key":
				r.Key = v
			case "Extra":
				r.Extra = v
			case "rows":
				_, _ = fmt.Sscan(v, &r.Rows)
			case "r_rows":
				_, _ = fmt.Sscan(v, &r.ReadRows)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
