package mysqlx_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/fstest"
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

// A user with exactly mysqlx.Privileges on its database (what charts/messenger's README grants) can migrate it:
// the platform's tables, then migrations that create tables with an index and a foreign key, alter, and drop;
// and the service's statements run (locking reads included).
func TestMigrateWithOnlyTheDocumentedPrivileges(t *testing.T) {
	cfg := mysqltest.NewDatabase(t)
	admin, err := sql.Open("mysql", mysqltest.Config("").DSN(false))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() }) // after the user is dropped (cleanups run last registered first)
	user, password := "mx_"+cfg.Database[len(cfg.Database)-8:], "pw-"+cfg.Database
	if _, err := admin.Exec("CREATE USER '" + user + "'@'%' IDENTIFIED BY '" + password + "'"); err != nil {
		t.Skipf("cannot create a MySQL user (%v): run as a user with CREATE USER", err)
	}
	t.Cleanup(func() {
		if _, err := admin.Exec("DROP USER IF EXISTS '" + user + "'@'%'"); err != nil {
			t.Errorf("drop user %s: %v", user, err)
		}
	})
	if _, err := admin.Exec("GRANT " + mysqlx.Privileges + " ON `" + cfg.Database + "`.* TO '" + user + "'@'%'"); err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Password = user, password
	migrations := fstest.MapFS{
		"0001_tables.up.sql": {Data: []byte(`
CREATE TABLE parents (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(32) NOT NULL, UNIQUE KEY parents_name (name));
CREATE TABLE children (
    id BIGINT NOT NULL PRIMARY KEY,
    parent_id BIGINT NOT NULL,
    CONSTRAINT children_parent FOREIGN KEY (parent_id) REFERENCES parents (id) ON DELETE CASCADE
);
CREATE INDEX children_parent_id ON children (parent_id, id);`)},
		"0001_tables.down.sql": {Data: []byte(`DROP TABLE children; DROP TABLE parents;`)},
		"0002_alter.up.sql":    {Data: []byte(`ALTER TABLE children ADD COLUMN note VARCHAR(64) NOT NULL DEFAULT '', ADD KEY children_note (note); ALTER TABLE parents DROP INDEX parents_name; CREATE TABLE scratch (id INT); DROP TABLE scratch;`)},
		"0002_alter.down.sql":  {Data: []byte(`ALTER TABLE children DROP COLUMN note;`)},
	}
	if err := mysqlx.Migrate(cfg, migrations); err != nil {
		t.Fatalf("migrate as %s with %s: %v", user, mysqlx.Privileges, err)
	}
	db, err := mysqlx.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = mysqlx.InTx(t.Context(), db, func(tx *sql.Tx) error {
		for _, q := range []string{
			"INSERT INTO parents (id, name) VALUES (1, 'a')",
			"INSERT INTO children (id, parent_id, note) VALUES (1, 1, 'x')",
			"SELECT id FROM parents WHERE id = 1 FOR UPDATE",
			"UPDATE children SET note = 'y' WHERE id = 1",
			"DELETE FROM parents WHERE id = 1",
			"INSERT INTO outbox (event_id, event_type, payload, headers) VALUES (UUID(), 't', '{}', '')",
		} {
			if _, err := tx.Exec(q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A second start finds nothing to do (the version table is read and kept).
	if err := mysqlx.Migrate(cfg, migrations); err != nil {
		t.Fatal(err)
	}
}
