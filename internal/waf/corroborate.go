package waf

import (
	"fmt"
	"slices"
	"strings"
)

// Corroboration. A few CRS detection rules match words that injections
// use and prose uses too, and fire on a request's free text with nothing
// else wrong in it: at paranoia level 1 they were every false positive
// of the corpus (docs/waf.md, "Measured"). Such a rule counts toward the
// anomaly score only when another rule of its attack family (an RCE
// rule for an RCE rule, an SQL injection rule for an SQL one) matched in
// the same request; alone it is reported (Verdict.Uncounted) and does
// not block. An injection seldom trips one rule alone: of the corpus's
// attacks, the few these rules caught alone were shell commands after a
// leading separator, which rule 10143 catches on its own.
//
// How: each listed rule also adds its score to a tally of its own
// family (tx.portcullis_prose_<family>_score); after every detection
// rule and before the CRS's blocking evaluation, one rule per family
// (10190 on) takes the tally back off the paranoia-level-1 score when
// the family's CRS score (tx.<family>_score, which every rule of the
// family adds to) holds nothing else. The CRS still adds up and decides,
// so the threshold, detect mode and exclusions work as before; excluding
// a family's rule (10190 for RCE, 10191 for SQL injection) makes its
// listed rules count alone again.

// proseProneRule is a CRS rule that counts only when corroborated.
type proseProneRule struct {
	id int
	// family is the CRS's name of the attack score the rule adds to
	// (tx.<family>_score); a rule adding to it corroborates.
	family string
}

// proseProne are the corroborated rules. Each is a paranoia-level-1
// critical rule (TestProseProneRules holds the CRS to that: the tally
// adds the critical score to level 1), listed for what it matches in
// prose.
var proseProne = []proseProneRule{
	// A Unix command word after any of the shell's separators, a
	// backtick and a semicolon among them: Markdown's inline code ("Run
	// `make report`") and a sentence going on after a semicolon ("call
	// first; make sure it is dry").
	{id: 932235, family: "rce"},
	// A Windows command at the start of a line: the print(...) of a
	// Python snippet quoted in a note.
	{id: 932370, family: "rce"},
	// An SQL keyword and a word after a run of no Latin letters at the
	// start of a value: the expression takes Cyrillic, Greek or Korean
	// text for punctuation, and then "Drop table legs into the box" or
	// "Insert the invoice into" reads as a statement.
	{id: 942360, family: "sql_injection"},
}

// corroborationFirstID is the id of the first family's rule; the
// families follow in the order proseProne first names them.
const corroborationFirstID = 10190

// proseFamilies are proseProne's families, each once, in order.
var proseFamilies = func() []string {
	var fams []string
	for _, r := range proseProne {
		if !slices.Contains(fams, r.family) {
			fams = append(fams, r.family)
		}
	}
	return fams
}()

// corroboration renders the tallies and the families' rules; it goes
// after every detection rule (Portcullis's included) and before
// REQUEST-949.
func corroboration(b *strings.Builder) {
	for _, r := range proseProne {
		fmt.Fprintf(b, `SecRuleUpdateActionById %d "setvar:'tx.portcullis_prose_%s_score=+%%{tx.critical_anomaly_score}'"`+"\n", r.id, r.family)
	}
	for i, f := range proseFamilies {
		fmt.Fprintf(b, `SecRule TX:portcullis_prose_%[1]s_score "@gt 0" "id:%[2]d,phase:2,pass,t:none,nolog,tag:'portcullis',chain"`+"\n", f, corroborationFirstID+i)
		fmt.Fprintf(b, `    SecRule TX:%[1]s_score "@le %%{tx.portcullis_prose_%[1]s_score}" "t:none,setvar:'tx.inbound_anomaly_score_pl1=-%%{tx.portcullis_prose_%[1]s_score}',setvar:'tx.portcullis_uncounted_%[1]s=1'"`+"\n", f)
	}
}

// uncounted lists the rules of matched that proseProne holds and that
// no rule of their family corroborated: they matched and did not count.
func uncounted(matched []int, tx map[string]bool) []int {
	var out []int
	for _, id := range matched {
		for _, r := range proseProne {
			if r.id == id && tx[r.family] && !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// uncountedFamilies reads which families' rules were taken off the
// score in a finished transaction.
func uncountedFamilies(t transaction) map[string]bool {
	var fams map[string]bool
	for _, f := range proseFamilies {
		if v := t.Variables().TX().Get("portcullis_uncounted_" + f); len(v) > 0 && v[0] == "1" {
			if fams == nil {
				fams = map[string]bool{}
			}
			fams[f] = true
		}
	}
	return fams
}

// corroborationRule tells the families' rules, which detect nothing.
func corroborationRule(id int) bool {
	return id >= corroborationFirstID && id < corroborationFirstID+10
}
