package function

import (
	"encoding/json"
	"net/http"
)

// Handle serves every request; the platform runs the server and answers health probes.
func Handle(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"message": "Hello from Telnyx Edge Compute!"})
}
