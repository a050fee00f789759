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
  HighlightStyle,
  bracketMatching,
  indentOnInput,
  indentUnit,
  syntaxHighlighting,
} from "../runtime/codemirror/codemirror-language.js";
import { python } from "../runtime/codemirror/codemirror-lang-python.js";
import { tags } from "../runtime/codemirror/lezer-highlight.js";

// The colours of Python's tokens. CodeMirror's default style is drawn for a light page and reads at
// 1.5:1 on the dark palette; these name the site's custom properties (dojo.css), which hold one colour
// per palette, each at 4.5:1 or more on the editor's background.
const token = (name) => `var(--dojo-code-${name})`;
const dojoHighlightStyle = HighlightStyle.define([
  { tag: tags.keyword, color: token("keyword") },
  { tag: [tags.bool, tags.null, tags.atom, tags.self], color: token("atom") },
  { tag: tags.number, color: token("number") },
  { tag: tags.string, color: token("string") },
  { tag: tags.escape, color: token("escape") },
  { tag: [tags.function(tags.definition(tags.variableName)), tags.definition(tags.variableName)], color: token("definition") },
  { tag: [tags.definition(tags.className), tags.className, tags.typeName, tags.namespace], color: token("class") },
  { tag: tags.comment, color: token("comment"), fontStyle: "italic" },
  { tag: tags.meta, color: token("meta") },
  { tag: tags.invalid, color: token("invalid") },
]);

// An editor in `parent` holding `text`; `onChange(text)` after every edit. Read-only files can be read,
// selected and copied, not changed.
export function createEditor(parent, text, { label, readOnly = false, onChange = () => {} } = {}) {
  const extensions = [
    lineNumbers(),
    highlightSpecialChars(),
    drawSelection(),
    highlightActiveLineGutter(),
    syntaxHighlighting(dojoHighlightStyle),
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
