package sandbox

import (
	"bytes"
	"crypto/subtle"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// The LMS's page for people trying the service by hand (function/cmd/dev): the courses and
// enrollments, and a form that creates a course, so that an order that failed because its
// course did not exist can be fixed and retried.
//
//	GET  /sandbox/courses[?course_id=…]   the courses and enrollments; the form, filled in
//	POST /sandbox/courses                 create: course_id, modes (comma-separated)
//
// This page is a test aid, not a simulation: the Open edX LMS has no page that creates a
// course, and nothing here copies an Open edX screen. A real course is created in Studio, the
// CMS (create_new_course in cms/djangoapps/contentstore/views/course.py of
// openedx/edx-platform, a course team's job), and its modes are set up in the Django admin
// (common/djangoapps/course_modes/admin.py). The path is outside the LMS's routes, and its
// requests are not in the call log.

// LMSCoursesPath is the path of the courses page.
const LMSCoursesPath = "/sandbox/courses"

var lmsModeRE = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

var lmsAdminWords = map[string]map[string]string{
	"en": {
		"simulated": "Simulated Open edX", "courses": "Courses", "course": "Course", "modes": "Modes",
		"enrollment": "Enrollment", "open": "open", "closed": "closed", "create_title": "Create a course",
		"course_id": "Course id", "modes_field": "Modes (comma-separated)", "create": "Create course",
		"created": "Course created:", "exists": "That course already exists.",
		"bad_id": "Not a course id: use course-v1:ORG+CODE+RUN.", "bad_mode": "Not a course mode:",
		"enrollments": "Enrollments", "user": "User", "mode": "Mode", "active": "Active", "yes": "yes", "no": "no",
		"order": "Order", "no_courses": "No courses yet.", "no_enrollments": "No enrollments yet.",
		"about":   "In a real Open edX, a course team creates courses in Studio. Here you can create the course a failed order asked for, then retry the order from the shop.",
		"expired": "This form has expired: reload the page and try again.",
	},
	"es": {
		"simulated": "Open edX simulado", "courses": "Cursos", "course": "Curso", "modes": "Modalidades",
		"enrollment": "Inscripción", "open": "abierta", "closed": "cerrada", "create_title": "Crear un curso",
		"course_id": "Id del curso", "modes_field": "Modalidades (separadas por comas)", "create": "Crear curso",
		"created": "Curso creado:", "exists": "Ese curso ya existe.",
		"bad_id": "No es un id de curso: use course-v1:ORG+CÓDIGO+EDICIÓN.", "bad_mode": "No es una modalidad de curso:",
		"enrollments": "Inscripciones", "user": "Usuario", "mode": "Modalidad", "active": "Activa", "yes": "sí", "no": "no",
		"order": "Pedido", "no_courses": "Todavía no hay cursos.", "no_enrollments": "Todavía no hay inscripciones.",
		"about":   "En un Open edX real, el equipo del curso crea los cursos en Studio. Aquí puede crear el curso que pidió un pedido fallido y luego reintentar el pedido desde la tienda.",
		"expired": "Este formulario ha caducado: vuelva a cargar la página e inténtelo de nuevo.",
	},
}

// LMSCreateCourseButton is the label of the courses page's create button in the language of
// locale: "Create course", or "Crear curso".
func LMSCreateCourseButton(locale string) string {
	return lmsAdminWords[siteLanguage(locale)]["create"]
}

// LMSCoursesURL is the courses page of the LMS at base, with the form filled in with courseID
// when it is not empty.
func LMSCoursesURL(base, courseID string) string {
	u := strings.TrimRight(base, "/") + LMSCoursesPath
	if courseID != "" {
		u += "?" + url.Values{"course_id": {courseID}}.Encode()
	}
	return u
}

// SetLanguage sets the language of the courses page (es, es_AR, en…).
func (l *LMS) SetLanguage(locale string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lang = siteLanguage(locale)
}

// serveAdmin answers /sandbox/.
func (l *LMS) serveAdmin(w http.ResponseWriter, r *http.Request) {
	l.mu.Lock()
	lang := l.lang
	if lang == "" {
		lang = "en"
	}
	if l.adminNonce == "" {
		l.adminNonce = shopRandomAlnum(16)
	}
	nonce := l.adminNonce
	l.mu.Unlock()
	words := lmsAdminWords[lang]
	if r.URL.Path != LMSCoursesPath {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	page := lmsAdminView{Lang: lang, W: words, Nonce: nonce, Modes: "audit"}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		q := r.URL.Query()
		page.CourseID = q.Get("course_id")
		if c := q.Get("created"); c != "" {
			page.Created = c
		}
		l.renderCourses(w, http.StatusOK, page)
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		page.CourseID = strings.TrimSpace(r.PostForm.Get("course_id"))
		page.Modes = r.PostForm.Get("modes")
		if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("nonce")), []byte(nonce)) != 1 {
			page.Error = words["expired"]
			l.renderCourses(w, http.StatusForbidden, page)
			return
		}
		if !lmsCourseKeyRE.MatchString(page.CourseID) || !strings.HasPrefix(page.CourseID, "course-v1:") {
			page.Error = words["bad_id"]
			l.renderCourses(w, http.StatusBadRequest, page)
			return
		}
		modes := splitModes(page.Modes)
		for _, m := range modes {
			if !lmsModeRE.MatchString(m) {
				page.Error = words["bad_mode"] + " " + m
				l.renderCourses(w, http.StatusBadRequest, page)
				return
			}
		}
		l.mu.Lock()
		_, exists := l.courses[page.CourseID]
		l.mu.Unlock()
		if exists {
			page.Error = words["exists"]
			l.renderCourses(w, http.StatusConflict, page)
			return
		}
		l.AddCourse(page.CourseID, modes...)
		http.Redirect(w, r, LMSCoursesPath+"?"+url.Values{"created": {page.CourseID}}.Encode(), http.StatusSeeOther)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
	}
}

func splitModes(s string) []string {
	var out []string
	for _, m := range strings.Split(s, ",") {
		if m = strings.TrimSpace(m); m != "" && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// lmsAdminView is what the courses page shows.
type lmsAdminView struct {
	Lang, Nonce     string
	W               map[string]string
	CourseID, Modes string // the form's values
	Created, Error  string
	Courses         []lmsAdminCourse
	Enrollments     []lmsAdminEnrollment
}

type lmsAdminCourse struct {
	ID     string
	Modes  string
	Closed bool
}

type lmsAdminEnrollment struct {
	LMSEnrollment
	Order string
}

func (l *LMS) renderCourses(w http.ResponseWriter, status int, page lmsAdminView) {
	l.mu.Lock()
	for id, c := range l.courses {
		page.Courses = append(page.Courses, lmsAdminCourse{ID: id, Modes: strings.Join(c.modes, ", "), Closed: c.closed})
	}
	l.mu.Unlock()
	slices.SortFunc(page.Courses, func(a, b lmsAdminCourse) int { return strings.Compare(a.ID, b.ID) })
	for _, e := range l.Enrollments() {
		v := lmsAdminEnrollment{LMSEnrollment: e}
		for _, a := range e.Attributes {
			if a.Name == "order_number" {
				v.Order = a.Value
			}
		}
		page.Enrollments = append(page.Enrollments, v)
	}
	var buf bytes.Buffer
	if err := lmsAdminPage.Execute(&buf, page); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

var lmsAdminPage = template.Must(template.New("courses").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.W.courses}} · {{.W.simulated}}</title>
<style>
body{margin:0;background:#f2f0ef;color:#222;font:15px/1.5 "Open Sans",system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{background:#00262b;color:#fff;padding:10px 20px;font-weight:600}header a{color:#fff;text-decoration:none}
main{max-width:960px;margin:0 auto;padding:12px 20px 40px}
h1{font-size:24px;font-weight:600;margin:16px 0 6px}h2{font-size:18px;margin:24px 0 8px}
.about{color:#555;margin:0 0 16px}
.box{background:#fff;border:1px solid #ddd;border-radius:6px;padding:14px 16px}
.notice{border-left:4px solid #0d7d4d;background:#fff;padding:8px 12px;margin:0 0 14px}.error{border-left-color:#b4131a}
form{display:grid;grid-template-columns:max-content 1fr;gap:8px 12px;align-items:center}
input[type=text]{font:inherit;padding:6px 8px;border:1px solid #aaa;border-radius:4px}
button{grid-column:2;justify-self:start;font:inherit;font-weight:600;padding:7px 16px;border:0;border-radius:4px;background:#0a3055;color:#fff;cursor:pointer}
button:hover,button:focus{background:#0075b4}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid #ddd}
th,td{text-align:left;padding:7px 10px;border-bottom:1px solid #eee}th{background:#f7f7f7;font-size:13px}
code{font-size:13px}.empty{color:#777}
</style></head><body><header><a href="` + LMSCoursesPath + `">{{.W.simulated}}</a></header><main>
<h1>{{.W.courses}}</h1>
<p class="about">{{.W.about}}</p>
{{if .Created}}<div class="notice" id="created">{{.W.created}} <code>{{.Created}}</code></div>{{end}}
{{if .Error}}<div class="notice error" id="error">{{.Error}}</div>{{end}}
<section class="box"><h2 style="margin-top:0">{{.W.create_title}}</h2>
<form method="post" action="` + LMSCoursesPath + `">
<input type="hidden" name="nonce" value="{{.Nonce}}">
<label for="course_id">{{.W.course_id}}</label><input type="text" id="course_id" name="course_id" value="{{.CourseID}}" placeholder="course-v1:ORG+CODE+RUN" required>
<label for="modes">{{.W.modes_field}}</label><input type="text" id="modes" name="modes" value="{{.Modes}}">
<button type="submit" id="create">{{.W.create}}</button>
</form></section>
<h2>{{.W.courses}}</h2>
{{if .Courses}}<table id="courses"><thead><tr><th>{{.W.course}}</th><th>{{.W.modes}}</th><th>{{.W.enrollment}}</th></tr></thead><tbody>
{{range .Courses}}<tr><td><code>{{.ID}}</code></td><td>{{.Modes}}</td><td>{{if .Closed}}{{$.W.closed}}{{else}}{{$.W.open}}{{end}}</td></tr>
{{end}}</tbody></table>{{else}}<p class="empty">{{.W.no_courses}}</p>{{end}}
<h2>{{.W.enrollments}}</h2>
{{if .Enrollments}}<table id="enrollments"><thead><tr><th>{{.W.user}}</th><th>{{.W.course}}</th><th>{{.W.mode}}</th><th>{{.W.active}}</th><th>{{.W.order}}</th></tr></thead><tbody>
{{range .Enrollments}}<tr><td>{{.User}}</td><td><code>{{.Course}}</code></td><td>{{.Mode}}</td><td>{{if .IsActive}}{{$.W.yes}}{{else}}{{$.W.no}}{{end}}</td><td>{{if .Order}}#{{.Order}}{{end}}</td></tr>
{{end}}</tbody></table>{{else}}<p class="empty">{{.W.no_enrollments}}</p>{{end}}
</main></body></html>`))
