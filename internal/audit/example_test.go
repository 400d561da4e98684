package audit_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rampart-gw/rampart/internal/audit"
)

// A log verifies against its public key alone; changing one recorded
// byte afterwards is found, with the record it is in.
func ExampleVerify() {
	dir, err := os.MkdirTemp("", "audit-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	l, err := audit.Open(audit.Options{Dir: dir, Origin: "example.org/audit", Sync: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, subject := range []string{"alice", "bob"} {
		ev, _ := json.Marshal(audit.Event{V: audit.EventVersion, Time: "2026-12-07T00:00:00Z", RequestID: "r-" + subject,
			ClientIP: "192.0.2.1", Subject: subject, Method: "GET", Path: "/api/users/" + subject, Status: 200})
		if err := l.Append(ev); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := l.Close(); err != nil { // Close writes a signed checkpoint
		fmt.Println(err)
		return
	}

	key, err := audit.ReadPublicKey(filepath.Join(dir, audit.PublicKeyFile))
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := audit.Verify(dir, audit.VerifyOptions{PublicKey: key, Strict: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("intact:", rep.OK(), "events:", rep.Events)

	// Someone with write access to the disk turns bob into eve.
	logFile := filepath.Join(dir, audit.LogFile)
	b, err := os.ReadFile(logFile)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := os.WriteFile(logFile, bytes.Replace(b, []byte(`"subject":"bob"`), []byte(`"subject":"eve"`), 1), 0o600); err != nil {
		fmt.Println(err)
		return
	}
	rep, err = audit.Verify(dir, audit.VerifyOptions{PublicKey: key, Strict: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Record indexes count the log's own records too, so bob's event,
	// the second event, is not record 1.
	fmt.Println("intact:", rep.OK(), "first bad record:", rep.FirstBadRecord)
	// Output:
	// intact: true events: 2
	// intact: false first bad record: 2
}
