// Command baseline is the minimal Go HTTP handler the load harness measures
// in the same run as Portcullis, so figures from a shared, noisy machine
// can be read as ratios. It listens on loopback only.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address (loopback)")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("baseline listens on a loopback address only, got %q", *addr)
	}
	body := []byte(`{"active":true}`)
	records := patients()
	srv := &http.Server{
		Addr: *addr,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			// The protected route's answer: about 2 KB of records for
			// the gateway's response rules to filter and rewrite. The
			// request body is read first, as a real handler would.
			if strings.Contains(r.URL.Path, "/orders") {
				_, _ = io.Copy(io.Discard, r.Body)
				_, _ = w.Write(records)
				return
			}
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	log.Fatal(srv.ListenAndServe())
}

// patients is a 2 KB JSON document of patient records, half of them of
// doctor D-1 (the caller of the protected route's benchmark).
func patients() []byte {
	var b strings.Builder
	b.WriteString(`{"patients":[`)
	for i := 0; b.Len() < 1950; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"P-%04d","name":"Patient %d","doctor_id":"D-%d","diagnosis":"Seasonal asthma","ssn":"900-12-%04d"}`, i, i, 1+i%2, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}
