-- Timeline lines as codes with parameters (issue 14): JSON {"code": "...", ...} that each
-- page words in its reader's language (src/domain/timeline.rs). `note` keeps the English
-- line; lines written before this have no event and are shown by their note.
ALTER TABLE timeline ADD COLUMN event TEXT;
