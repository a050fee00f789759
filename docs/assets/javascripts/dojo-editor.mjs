// The kata editor: CodeMirror 6, served by the site from assets/runtime/codemirror/ (fetched from npm at
// build time, pinned in browser.lock.json), with Python highlighting. One editor per file of the kata.
import { EditorState } from "../runtime/codemirror/codemirror-state.js";
import {
  EditorView,
  drawSelection,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
} from "../runtime/codemirror/codemirror-view.js";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "../runtime/codemirror/codemirror-commands.js";
import {
  bracketMatching,
  defaultHighlightStyle,
  indentOnInput,
  indentUnit,
  syntaxHighlighting,
} from "../runtime/codemirror/codemirror-language.js";
import { python } from "../runtime/codemirror/codemirror-lang-python.js";

// An editor in `parent` holding `text`; `onChange(text)` after every edit. Read-only files can be read,
// selected and copied, not changed.
export function createEditor(parent, text, { label, readOnly = false, onChange = () => {} } = {}) {
  const extensions = [
    lineNumbers(),
    highlightSpecialChars(),
    drawSelection(),
    highlightActiveLineGutter(),
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
    bracketMatching(),
    python(),
    indentUnit.of("    "),
    EditorView.contentAttributes.of({ "aria-label": label }),
    EditorState.readOnly.of(readOnly),
    EditorView.editable.of(!readOnly),
  ];
  if (!readOnly) {
    extensions.push(
      history(),
      indentOnInput(),
      highlightActiveLine(),
      keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) onChange(update.state.doc.toString());
      }),
    );
  }
  const view = new EditorView({ parent, state: EditorState.create({ doc: text, extensions }) });
  return {
    view,
    get value() {
      return view.state.doc.toString();
    },
    // replaces the whole text as one edit, which Ctrl-Z takes back
    replace(next) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: next } });
    },
  };
}
