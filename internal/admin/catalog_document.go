package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/publish"
)

// DocumentService is the stored catalog's domain service as the document
// routes use it: *publish.Service (Plan, Apply, Export) together with the
// catalog revision the store keeps (store.DB.CatalogRevision). Plan's
// refusals wrap publish.ErrInvalid and Apply's stale plans are
// publish.ErrStale.
type DocumentService interface {
	Plan(ctx context.Context, desired catalog.Document) (*publish.Plan, error)
	Apply(ctx context.Context, p *publish.Plan) error
	Export(ctx context.Context) (catalog.Document, error)
	// CatalogRevision is the catalog's revision now; each catalog write
	// bumps it in the write's own transaction.
	CatalogRevision(ctx context.Context) (int64, error)
}

var hasDocuments = func(a *API) bool { return a.documents != nil }

// documentRoutes are the routes of whole catalog documents (export, plan,
// apply) for the remote CLI. The document travels as YAML text inside a
// JSON envelope: its model has YAML names only, and the text is exactly
// what `portcullis export` writes and `apply -f` reads.
var documentRoutes = []route{
	{method: "GET", path: "/admin/v1/catalog", roles: anyRole, op: "exportCatalog",
		summary:  "The stored catalog as a document (YAML) with its revision",
		response: "CatalogDocument", status: 200, part: hasDocuments, handle: (*API).exportCatalog},
	{method: "POST", path: "/admin/v1/catalog/plan", roles: catalogWrite, op: "planCatalog",
		summary: "What applying a document would change; writes nothing (a refused document is 422)",
		request: "DocumentRequest", response: "DocumentPlan", status: 200, part: hasDocuments, handle: (*API).planCatalog},
	{method: "POST", path: "/admin/v1/catalog/apply", roles: catalogWrite, op: "applyCatalog",
		summary: "Make the stored catalog equal to a document, if it is still at the planned revision (else 412)",
		request: "DocumentApplyRequest", response: "DocumentApplied", status: 200, part: hasDocuments, handle: (*API).applyCatalog},
}

// CatalogDocument is the stored catalog: the YAML document `portcullis
// export` writes, and the revision it is at.
type CatalogDocument struct {
	Revision int64  `json:"revision"`
	Document string `json:"document"`
}

// DocumentRequest is the body of POST /admin/v1/catalog/plan.
type DocumentRequest struct {
	// Document is the YAML document, as `portcullis apply -f` reads it.
	Document string `json:"document"`
}

// DocumentApplyRequest is the body of POST /admin/v1/catalog/apply.
type DocumentApplyRequest struct {
	Document string `json:"document"`
	// Revision is the revision of the plan the caller reviewed; the
	// document is applied only while the catalog is still at it.
	// Required: 0 is the revision of a catalog never written.
	Revision *int64 `json:"revision"`
}

// DocumentFieldChange is one differing field of a changed object: its
// YAML path and values, "" on the side where it is absent.
type DocumentFieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// DocumentChange is what applying a document does to one object
// (catalog.Change).
type DocumentChange struct {
	// Kind is "created", "changed" or "deleted".
	Kind string `json:"kind"`
	// Object is "api", "plan", "api_group" or "gateway_group".
	Object string `json:"object"`
	// Name is "name version" for an API version, else the name.
	Name   string                `json:"name"`
	Fields []DocumentFieldChange `json:"fields,omitempty"`
}

// DocumentPlan answers POST /admin/v1/catalog/plan.
type DocumentPlan struct {
	// Revision is the catalog revision the plan was computed from: what
	// POST /admin/v1/catalog/apply takes.
	Revision int64            `json:"revision"`
	Empty    bool             `json:"empty"`
	Changes  []DocumentChange `json:"changes"`
	// Text is the plan as `portcullis apply` prints it (PlanText).
	Text string `json:"text"`
}

// DocumentApplied answers POST /admin/v1/catalog/apply.
type DocumentApplied struct {
	// Revision is the catalog's revision read back after the commit (a
	// later write only makes it larger); absent when it could not be
	// read, the apply standing all the same.
	Revision int64            `json:"revision,omitempty"`
	Changes  []DocumentChange `json:"changes"`
}

// NewDocumentChanges is cs as the document routes answer them.
func NewDocumentChanges(cs []catalog.Change) []DocumentChange {
	out := make([]DocumentChange, len(cs))
	for i, c := range cs {
		out[i] = DocumentChange{Kind: string(c.Kind), Object: c.Object, Name: c.Name}
		for _, f := range c.Fields {
			out[i].Fields = append(out[i].Fields, DocumentFieldChange{Field: f.Field, Old: f.Old, New: f.New})
		}
	}
	return out
}

// Change is c as the catalog package's change.
func (c DocumentChange) Change() catalog.Change {
	out := catalog.Change{Kind: catalog.ChangeKind(c.Kind), Object: c.Object, Name: c.Name}
	for _, f := range c.Fields {
		out.Fields = append(out.Fields, catalog.FieldChange{Field: f.Field, Old: f.Old, New: f.New})
	}
	return out
}

// PlanText is a plan's changes as `portcullis apply` prints them, locally
// and through this API alike: a line per object (more for a changed
// object's fields), or one line saying there is nothing to do.
func PlanText(cs []catalog.Change) string {
	if len(cs) == 0 {
		return "No changes: the stored catalog matches.\n"
	}
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// exportAttempts bounds how often exportCatalog reads again when a write
// landed between its reads.
const exportAttempts = 3

func (a *API) exportCatalog(w http.ResponseWriter, r *http.Request, reqID string) {
	doc, rev, err := a.exportDocument(r.Context())
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	b, err := doc.Marshal()
	if err != nil {
		a.fail(w, reqID, fmt.Errorf("marshal catalog document: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, CatalogDocument{Revision: rev, Document: string(b)})
}

// exportDocument reads the catalog and the revision it is at. Export
// does not say its revision, so the revision is read before and after:
// equal, nothing was written in between. After exportAttempts tries it
// answers the revision read first, which is never newer than the
// document: an apply with it is refused as stale rather than applied
// over a change its caller did not see.
func (a *API) exportDocument(ctx context.Context) (catalog.Document, int64, error) {
	for i := 0; ; i++ {
		before, err := a.documents.CatalogRevision(ctx)
		if err != nil {
			return catalog.Document{}, 0, err
		}
		doc, err := a.documents.Export(ctx)
		if err != nil {
			return catalog.Document{}, 0, err
		}
		after, err := a.documents.CatalogRevision(ctx)
		if err != nil {
			return catalog.Document{}, 0, err
		}
		if before == after || i+1 == exportAttempts {
			return doc, before, nil
		}
	}
}

func (a *API) planCatalog(w http.ResponseWriter, r *http.Request, reqID string) {
	var req DocumentRequest
	if !a.decodeDocument(w, r, reqID, &req) {
		return
	}
	plan, ok := a.planDocument(w, r, reqID, req.Document)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, DocumentPlan{
		Revision: plan.Revision(), Empty: plan.Empty(),
		Changes: NewDocumentChanges(plan.Changes), Text: PlanText(plan.Changes),
	})
}

// staleDetail is the detail of a 412 of the apply route.
const staleDetail = "the stored catalog changed since the plan; plan again"

func (a *API) applyCatalog(w http.ResponseWriter, r *http.Request, reqID string) {
	var req DocumentApplyRequest
	if !a.decodeDocument(w, r, reqID, &req) {
		return
	}
	if req.Revision == nil {
		a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request",
			"revision is required: the revision of the plan that was reviewed")
		return
	}
	// Planned again here: what is applied is worked out by the server
	// against the catalog it holds, and the revision check makes it the
	// plan the caller reviewed (the same document against the same
	// catalog plans the same changes).
	plan, ok := a.planDocument(w, r, reqID, req.Document)
	if !ok {
		return
	}
	if plan.Revision() != *req.Revision {
		a.problem(w, reqID, http.StatusPreconditionFailed, "precondition-failed", "Precondition failed",
			fmt.Sprintf("%s (planned at revision %d, the catalog is at %d)", staleDetail, *req.Revision, plan.Revision()))
		return
	}
	// The caller is the audit actor: guard put it on the context.
	if err := a.documents.Apply(r.Context(), plan); err != nil {
		a.documentFail(w, reqID, err)
		return
	}
	out := DocumentApplied{Revision: plan.Revision(), Changes: NewDocumentChanges(plan.Changes)}
	if !plan.Empty() {
		out.Revision = 0
		if rev, err := a.documents.CatalogRevision(r.Context()); err != nil {
			// Committed; only the answer's revision is missing.
			a.logger.Warn("catalog revision unreadable after an apply", "request_id", reqID, "err", err)
		} else {
			out.Revision = rev
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// planDocument parses text and plans it, answering a refusal itself.
func (a *API) planDocument(w http.ResponseWriter, r *http.Request, reqID, text string) (*publish.Plan, bool) {
	doc, err := catalog.ParseDocument("document", []byte(text))
	if err != nil {
		// The YAML parser's message names the line and field.
		a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request",
			boundedDetail(err.Error(), maxRefusalDetail))
		return nil, false
	}
	plan, err := a.documents.Plan(r.Context(), doc)
	if err != nil {
		a.documentFail(w, reqID, err)
		return nil, false
	}
	return plan, true
}

// documentFail answers an error of the publish service: a stale plan
// (412, saying to plan again), else as fail does (a refused document:
// 422 with every reason).
func (a *API) documentFail(w http.ResponseWriter, reqID string, err error) {
	switch {
	case errors.Is(err, publish.ErrStale):
		a.problem(w, reqID, http.StatusPreconditionFailed, "precondition-failed", "Precondition failed", staleDetail)
	default:
		a.fail(w, reqID, err)
	}
}

// maxDocumentBody bounds the body of plan and apply: 4 MiB of YAML holds
// thousands of API versions.
const maxDocumentBody = 4 << 20

// maxRefusalDetail bounds the detail of a refused document's problem:
// every reason fits unless the document is mostly mistakes.
const maxRefusalDetail = 16 << 10

// decodeDocument is decode with the document routes' larger bound, which
// it reports as 413 rather than as a malformed body.
func (a *API) decodeDocument(w http.ResponseWriter, r *http.Request, reqID string, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxDocumentBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		a.problem(w, reqID, http.StatusRequestEntityTooLarge, "too-large", "Body too large",
			fmt.Sprintf("the body is larger than %d MiB: split the catalog, or apply it with the local command", maxDocumentBody>>20))
		return false
	case err != nil:
		a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request", "the body is not the JSON object this operation takes")
		return false
	case dec.More():
		a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request", "the body holds more than one JSON value")
		return false
	}
	return true
}

// boundedDetail is s cut to at most max bytes at a line end, saying how
// many lines were left out.
func boundedDetail(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const room = 40 // for the tail below
	keep := s[:max-room]
	cut := strings.LastIndexByte(keep, '\n')
	left := strings.Count(s[cut+1:], "\n") + 1
	if cut <= 0 {
		// One long line: cut it on a character boundary.
		cut = len(keep)
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		left = strings.Count(s[cut:], "\n") + 1
	}
	tail := fmt.Sprintf("\n  ... and %d more lines", left)
	if left == 1 {
		tail = "\n  ... and 1 more line"
	}
	return s[:cut] + tail
}
