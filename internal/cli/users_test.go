package cli

import (
	"strings"
	"testing"
)

func TestReadPasswordLine(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{name: "newline stripped", in: "s3cret\n", want: "s3cret"},
		{name: "crlf stripped", in: "s3cret\r\n", want: "s3cret"},
		{name: "no newline", in: "s3cret", want: "s3cret"},
		{name: "only the first line", in: "first\nsecond\n", want: "first"},
		{name: "spaces kept", in: " pass phrase \n", want: " pass phrase "},
		{name: "empty", in: "", want: ""},
		{name: "longest allowed", in: strings.Repeat("x", maxPasswordBytes) + "\n", want: strings.Repeat("x", maxPasswordBytes)},
		{name: "too long", in: strings.Repeat("x", maxPasswordBytes+1) + "\n", wantErr: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadPasswordLine(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadPasswordLine error = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "xxxx") {
					t.Errorf("error %q echoes the password", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadPasswordLine: %v", err)
			}
			if got != tt.want {
				t.Errorf("ReadPasswordLine = %q, want %q", got, tt.want)
			}
		})
	}
}
