package fakeintra

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// User is an account at the provider: the fields clients read, and the
// whole /v2/me document.
type User struct {
	ID          int64
	Login       string
	Email       string
	DisplayName string
	// ImageLink is image.link; empty for a user without a picture, whom
	// the provider gives "link": null.
	ImageLink string
	// Kind is "student", "admin" (staff) or "external".
	Kind  string
	Staff bool
	// Document is the user's /v2/me JSON as the provider returns it.
	// When empty, New makes one from the fields above, with the
	// provider's other fields at plausible values.
	Document json.RawMessage
}

// LoadUsers reads users from a JSON array of /v2/me documents, such as
// testdata/intra/users.json.
func LoadUsers(path string) ([]User, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fakeintra: load users: %w", err)
	}
	users, err := parseUsers(data)
	if err != nil {
		return nil, fmt.Errorf("fakeintra: load users from %s: %w", path, err)
	}
	return users, nil
}

func parseUsers(data []byte) ([]User, error) {
	var docs []json.RawMessage
	if err := json.Unmarshal(data, &docs); err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, errors.New("no users")
	}
	users := make([]User, 0, len(docs))
	ids := make(map[int64]bool)
	logins := make(map[string]bool)
	for i, doc := range docs {
		var head struct {
			ID          int64  `json:"id"`
			Login       string `json:"login"`
			Email       string `json:"email"`
			DisplayName string `json:"displayname"`
			Kind        string `json:"kind"`
			Staff       bool   `json:"staff?"`
			Image       struct {
				Link *string `json:"link"`
			} `json:"image"`
		}
		if err := json.Unmarshal(doc, &head); err != nil {
			return nil, fmt.Errorf("user %d: %w", i, err)
		}
		switch {
		case head.ID <= 0:
			return nil, fmt.Errorf("user %d: no positive id", i)
		case head.Login == "":
			return nil, fmt.Errorf("user %d: no login", i)
		case ids[head.ID]:
			return nil, fmt.Errorf("user %d: id %d used twice", i, head.ID)
		case logins[head.Login]:
			return nil, fmt.Errorf("user %d: login %q used twice", i, head.Login)
		}
		ids[head.ID], logins[head.Login] = true, true
		var compact bytes.Buffer
		if err := json.Compact(&compact, doc); err != nil {
			return nil, fmt.Errorf("user %d: %w", i, err)
		}
		u := User{
			ID: head.ID, Login: head.Login, Email: head.Email, DisplayName: head.DisplayName,
			Kind: head.Kind, Staff: head.Staff, Document: compact.Bytes(),
		}
		if head.Image.Link != nil {
			u.ImageLink = *head.Image.Link
		}
		users = append(users, u)
	}
	return users, nil
}

// BuiltinUsers are the accounts of a Server given none: a student and a
// staff member, their documents made as for a User without one.
func BuiltinUsers() []User {
	return []User{
		{
			ID: 110423, Login: "jdoe", Email: "jdoe@student.42.fr", DisplayName: "John Doe",
			ImageLink: "https://cdn.intra.42.fr/users/a31405d272b94e5d12e9a52a665d3bfe/jdoe.jpg",
			Kind:      "student",
		},
		{
			ID: 2931, Login: "gfavre", Email: "gfavre@42.fr", DisplayName: "Gabrielle Favre",
			ImageLink: "https://cdn.intra.42.fr/users/3d4c0e0bd5e4f2f2b6c1b3d6a8e54a1c/gfavre.jpg",
			Kind:      "admin", Staff: true,
		},
	}
}

// profile is the /v2/me document, its fields in the provider's order.
type profile struct {
	ID              int64           `json:"id"`
	Email           string          `json:"email"`
	Login           string          `json:"login"`
	FirstName       string          `json:"first_name"`
	LastName        string          `json:"last_name"`
	UsualFullName   string          `json:"usual_full_name"`
	UsualFirstName  *string         `json:"usual_first_name"`
	URL             string          `json:"url"`
	Phone           string          `json:"phone"`
	DisplayName     string          `json:"displayname"`
	Kind            string          `json:"kind"`
	Image           profileImage    `json:"image"`
	Staff           bool            `json:"staff?"`
	CorrectionPoint int             `json:"correction_point"`
	PoolMonth       *string         `json:"pool_month"`
	PoolYear        *string         `json:"pool_year"`
	Location        *string         `json:"location"`
	Wallet          int             `json:"wallet"`
	AnonymizeDate   *string         `json:"anonymize_date"`
	DataErasureDate *string         `json:"data_erasure_date"`
	CreatedAt       string          `json:"created_at"`
	UpdatedAt       string          `json:"updated_at"`
	AlumnizedAt     *string         `json:"alumnized_at"`
	Alumni          bool            `json:"alumni?"`
	Active          bool            `json:"active?"`
	Groups          []struct{}      `json:"groups"`
	CursusUsers     []struct{}      `json:"cursus_users"`
	ProjectsUsers   []struct{}      `json:"projects_users"`
	LanguagesUsers  []struct{}      `json:"languages_users"`
	Achievements    []struct{}      `json:"achievements"`
	Titles          []struct{}      `json:"titles"`
	TitlesUsers     []struct{}      `json:"titles_users"`
	Partnerships    []struct{}      `json:"partnerships"`
	Patroned        []struct{}      `json:"patroned"`
	Patroning       []struct{}      `json:"patroning"`
	ExpertisesUsers []struct{}      `json:"expertises_users"`
	Roles           []struct{}      `json:"roles"`
	Campus          json.RawMessage `json:"campus"`
	CampusUsers     json.RawMessage `json:"campus_users"`
}

type profileImage struct {
	Link     *string `json:"link"`
	Versions struct {
		Large  *string `json:"large"`
		Medium *string `json:"medium"`
		Small  *string `json:"small"`
		Micro  *string `json:"micro"`
	} `json:"versions"`
}

const parisCampus = `[{"id":1,"name":"Paris","time_zone":"Europe/Paris","language":{"id":1,"name":"Français","identifier":"fr","created_at":"2014-11-02T16:43:38.466Z","updated_at":"2025-11-19T12:33:10.392Z"},"users_count":27113,"vogsphere_id":1,"country":"France","address":"96, boulevard Bessières","zip":"75017","city":"Paris","website":"https://42.fr/","facebook":"https://facebook.com/42born2code","twitter":"https://twitter.com/42born2code","active":true,"public":true,"email_extension":"42.fr","default_hidden_phone":false}]`

// synthesize makes a /v2/me document for a user given without one.
func (u User) synthesize() json.RawMessage {
	first, last, _ := strings.Cut(u.DisplayName, " ")
	kind := u.Kind
	if kind == "" {
		kind = "student"
	}
	str := func(s string) *string { return &s }
	p := profile{
		ID: u.ID, Email: u.Email, Login: u.Login, FirstName: first, LastName: last,
		UsualFullName: u.DisplayName, URL: "https://api.intra.42.fr/v2/users/" + u.Login,
		Phone: "hidden", DisplayName: u.DisplayName, Kind: kind, Staff: u.Staff,
		CreatedAt: "2021-06-28T08:12:44.310Z", UpdatedAt: "2025-11-03T17:40:02.118Z",
		Active: true, Groups: []struct{}{}, CursusUsers: []struct{}{}, ProjectsUsers: []struct{}{},
		LanguagesUsers: []struct{}{}, Achievements: []struct{}{}, Titles: []struct{}{},
		TitlesUsers: []struct{}{}, Partnerships: []struct{}{}, Patroned: []struct{}{},
		Patroning: []struct{}{}, ExpertisesUsers: []struct{}{}, Roles: []struct{}{},
		Campus: json.RawMessage(parisCampus),
		CampusUsers: json.RawMessage(fmt.Sprintf(`[{"id":%d,"user_id":%d,"campus_id":1,"is_primary":true,"created_at":"2021-06-28T08:12:44.310Z","updated_at":"2021-06-28T08:12:44.310Z"}]`,
			u.ID+50000, u.ID)),
	}
	if !u.Staff {
		p.PoolMonth, p.PoolYear = str("july"), str("2021")
		p.CorrectionPoint, p.Wallet = 5, 100
		p.AnonymizeDate, p.DataErasureDate = str("2028-11-04T00:00:00.000+01:00"), str("2028-11-04T00:00:00.000+01:00")
	}
	if u.ImageLink != "" {
		p.Image.Link = str(u.ImageLink)
		dir, file := "", u.ImageLink
		if i := strings.LastIndexByte(u.ImageLink, '/'); i >= 0 {
			dir, file = u.ImageLink[:i+1], u.ImageLink[i+1:]
		}
		v := &p.Image.Versions
		v.Large, v.Medium, v.Small, v.Micro = str(dir+"large_"+file), str(dir+"medium_"+file), str(dir+"small_"+file), str(dir+"micro_"+file)
	}
	doc, err := json.Marshal(p)
	if err != nil {
		panic("fakeintra: synthesize user: " + err.Error()) // cannot happen: every field marshals
	}
	return doc
}

// withoutField returns the JSON object doc without its top-level member
// name, the others in their order. A doc that is not an object comes back
// as it is.
func withoutField(doc []byte, name string) []byte {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return doc
	}
	var out bytes.Buffer
	out.WriteByte('{')
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return doc
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return doc
		}
		if key == name {
			continue
		}
		if out.Len() > 1 {
			out.WriteByte(',')
		}
		k, _ := json.Marshal(key)
		out.Write(k)
		out.WriteByte(':')
		out.Write(v)
	}
	out.WriteByte('}')
	return out.Bytes()
}
