package demo

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/portcullis/portcullis/internal/token"
)

// clinicPrefix is where the demo backend serves the clinic API; the
// gateway's clinic entry points its upstream there.
const clinicPrefix = "/clinic"

// patient is one record of the clinic backend. The backend is the kind of
// system the gateway protects: it answers every record in full, diagnosis
// and social security number included, and leaves it to the gateway's
// response rules to decide what each caller reads.
type patient struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	DoctorID        string `json:"doctor_id"`
	Diagnosis       string `json:"diagnosis"`
	SSN             string `json:"ssn"`
	NextAppointment string `json:"next_appointment"`
	Notes           []note `json:"notes"`
}

type note struct {
	Text    string `json:"text"`
	By      string `json:"by"`
	Created string `json:"created"`
}

// clinicPatients are the demo's records: D-1001 is dr-grey, D-1002 is
// dr-house (their staff_id attributes). The numbers are from the range
// no real social security number uses (900-999).
func clinicPatients() []patient {
	return []patient{
		{ID: "P-0001", Name: "Ada Byron", DoctorID: "D-1001", Diagnosis: "Seasonal asthma", SSN: "900-12-0001", NextAppointment: "2026-12-14T09:30:00Z", Notes: []note{}},
		{ID: "P-0002", Name: "Brendan Cole", DoctorID: "D-1002", Diagnosis: "Fractured left radius", SSN: "900-12-0002", NextAppointment: "2026-12-15T11:00:00Z", Notes: []note{}},
		{ID: "P-0003", Name: "Chiara Rossi", DoctorID: "D-1001", Diagnosis: "Type 2 diabetes, controlled", SSN: "900-12-0003", NextAppointment: "2026-12-16T14:15:00Z", Notes: []note{}},
		{ID: "P-0004", Name: "Dmitri Orlov", DoctorID: "D-1002", Diagnosis: "Migraine with aura", SSN: "900-12-0004", NextAppointment: "2026-12-17T08:45:00Z", Notes: []note{}},
	}
}

// clinicBackend serves the clinic API's records.
type clinicBackend struct {
	verifier *token.Verifier
	logger   *slog.Logger

	mu       sync.Mutex
	patients []patient
}

func newClinicBackend(v *token.Verifier, logger *slog.Logger) *clinicBackend {
	return &clinicBackend{verifier: v, logger: logger, patients: clinicPatients()}
}

func (b *clinicBackend) register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+clinicPrefix+"/patients", verified(b.verifier, b.logger, b.list))
	mux.HandleFunc("POST "+clinicPrefix+"/patients/{id}/notes", verified(b.verifier, b.logger, b.addNote))
}

func (b *clinicBackend) list(w http.ResponseWriter, _ *http.Request, _ *token.Claims) {
	b.mu.Lock()
	defer b.mu.Unlock()
	writeBackendJSON(w, http.StatusOK, map[string]any{"patients": b.patients})
}

// addNote appends a note to a patient's record. Only the patient's own
// doctor may write one: the backend checks it from the verified token's
// staff_id, as a backend must for what only it knows (which doctor a
// patient has).
func (b *clinicBackend) addNote(w http.ResponseWriter, r *http.Request, c *token.Claims) {
	var in struct {
		Text string `json:"text"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10)).Decode(&in); err != nil || in.Text == "" {
		writeBackendJSON(w, http.StatusBadRequest, map[string]string{"error": `send {"text": "..."}`})
		return
	}
	staff, _ := c.Raw["staff_id"].(string)
	b.mu.Lock()
	defer b.mu.Unlock()
	i := slices.IndexFunc(b.patients, func(p patient) bool { return p.ID == r.PathValue("id") })
	if i < 0 {
		writeBackendJSON(w, http.StatusNotFound, map[string]string{"error": "no such patient"})
		return
	}
	p := &b.patients[i]
	if staff == "" || p.DoctorID != staff {
		writeBackendJSON(w, http.StatusForbidden, map[string]string{"error": "not your patient"})
		return
	}
	p.Notes = append(p.Notes, note{Text: in.Text, By: staff, Created: time.Now().UTC().Format(time.RFC3339)})
	writeBackendJSON(w, http.StatusCreated, map[string]any{"patient": p})
}
