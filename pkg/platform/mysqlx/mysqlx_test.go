package mysqlx_test

import (
	"sync"
	"testing"

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
