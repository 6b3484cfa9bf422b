package mysqlx_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"simplemessenger/platform/mysqlx"
	"simplemessenger/platform/mysqlx/mysqltest"
)

func TestMigrateIsSafeWhenReplicasStartTogether(t *testing.T) {
	cfg := mysqltest.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- mysqlx.Migrate(cfg, nil) }()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	db, err := mysqlx.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ? AND table_name IN ('outbox','inbox')", cfg.Database).Scan(&n); err != nil || n != 2 {
		t.Fatalf("outbox and inbox tables: %d, %v", n, err)
	}
}

func TestIsDuplicate(t *testing.T) {
	db, _ := mysqltest.New(t, nil)
	if _, err := db.Exec("INSERT INTO inbox (consumer, event_id) VALUES ('c', 'e')"); err != nil {
		t.Fatal(err)
	}
	_, err := db.Exec("INSERT INTO inbox (consumer, event_id) VALUES ('c', 'e')")
	if !mysqlx.IsDuplicate(err) {
		t.Fatalf("second insert: %v, want a duplicate-key error", err)
	}
}

func TestInTxWithPassesItsOptions(t *testing.T) {
	db, _ := mysqltest.New(t, nil)
	err := mysqlx.InTxWith(context.Background(), db, &sql.TxOptions{ReadOnly: true}, func(tx *sql.Tx) error {
		_, err := tx.Exec("INSERT INTO inbox (consumer, event_id) VALUES ('c', 'e')")
		return err
	})
	if err == nil {
		t.Fatal("a write in a read-only transaction succeeded")
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM inbox").Scan(&n); err != nil || n != 0 {
		t.Errorf("rows %d, %v", n, err)
	}
}

func TestIsDeadlock(t *testing.T) {
	db, _ := mysqltest.New(t, nil)
	if _, err := db.Exec("INSERT INTO inbox (consumer, event_id) VALUES ('c', 'a'), ('c', 'b')"); err != nil {
		t.Fatal(err)
	}
	// Two transactions each lock one row, then want the other's: InnoDB rolls one of them back.
	const lock = "UPDATE inbox SET processed_at = NOW(6) WHERE consumer = 'c' AND event_id = ?"
	aLocked, bLocked := make(chan struct{}), make(chan struct{})
	lockBoth := func(first, second string, iLocked chan<- struct{}, otherLocked <-chan struct{}) error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return mysqlx.InTx(ctx, db, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, lock, first)
			close(iLocked) // also on failure, so the other one does not wait forever
			if err != nil {
				return err
			}
			<-otherLocked
			_, err = tx.ExecContext(ctx, lock, second)
			return err
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- lockBoth("a", "b", aLocked, bLocked) }()
	go func() { errs <- lockBoth("b", "a", bLocked, aLocked) }()
	e1, e2 := <-errs, <-errs
	if mysqlx.IsDeadlock(e1) == mysqlx.IsDeadlock(e2) {
		t.Fatalf("want exactly one deadlock victim: %v / %v", e1, e2)
	}
	if mysqlx.IsDeadlock(errors.New("Error 1213")) || mysqlx.IsDuplicate(e1) || mysqlx.IsDuplicate(e2) {
		t.Error("only MySQL's deadlock error is a deadlock, and it is no duplicate")
	}
}

func TestCollectScansEveryRowAndGivesAnEmptyListForNone(t *testing.T) {
	db, _ := mysqltest.New(t, nil)
	for _, id := range []string{"a", "b"} {
		if _, err := db.Exec("INSERT INTO inbox (consumer, event_id) VALUES ('c', ?)", id); err != nil {
			t.Fatal(err)
		}
	}
	scan := func(r *sql.Rows) (id string, err error) { return id, r.Scan(&id) }
	rows, err := db.Query("SELECT event_id FROM inbox ORDER BY event_id")
	if err != nil {
		t.Fatal(err)
	}
	got, err := mysqlx.Collect(rows, scan)
	if err != nil || len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("got %v, %v", got, err)
	}
	rows, _ = db.Query("SELECT event_id FROM inbox WHERE consumer = 'nobody'")
	if none, err := mysqlx.Collect(rows, scan); err != nil || none == nil || len(none) != 0 {
		t.Fatalf("no rows: %#v, %v (want an empty, non-nil list)", none, err)
	}
}

func TestMigrateLeavesNoConnectionOpen(t *testing.T) {
	cfg := mysqltest.NewDatabase(t)
	if err := mysqlx.Migrate(cfg, nil); err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("mysql", mysqltest.Config("").DSN(false))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// The server closes a connection shortly after the client's QUIT: allow it a moment.
	var n int
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := admin.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ?", cfg.Database).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n != 0 {
		t.Fatalf("%d connections to %s still open after Migrate returned (the migration driver's own connection must be closed)", n, cfg.Database)
	}
}
