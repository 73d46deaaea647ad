// web_page.h: the single page served at / (plain HTML, CSS and JavaScript in one document, no
// build step, no external resources): drop two photos and see the verdict, the distance and both
// aligned crops; enrol a person from photos; identify a photo against a gallery; list and remove
// people. It only calls the public API (docs/serve.md), as any other client would.
//
// Test mode: /?a=/demo/X.jpg&b=/demo/Y.jpg loads those two images and verifies them as if they
// had been dropped; the server serves /demo/ only when started with --demo-dir (tests), and the
// page accepts no other URLs there. The verdict element carries data-verdict="same|different|
// error" and <body> data-state="done" once an answer is shown, for a headless browser to read.
#pragma once
#include <string>

namespace face::serve {

const std::string& index_html();

}  // namespace face::serve
