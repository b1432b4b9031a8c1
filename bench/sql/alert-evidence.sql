-- The alert evidence of the devices' alerts, with each alert's title and severity.
WITH alert_ids AS (
    SELECT DISTINCT AlertId FROM AlertEvidence
    WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP
        AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[])))
),
alerts AS (
    SELECT AlertId, "Timestamp" AS AlertTime, Title, Category, Severity, DetectionSource,
        ServiceSource, AttackTechniques
    FROM AlertInfo
    WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP
        AND AlertId IN (SELECT AlertId FROM alert_ids)
)
SELECT e.AlertId, e.EntityType, e.EvidenceRole, e.DeviceName, e.FileName, e.FolderPath, e.SHA1,
    e.SHA256, e.RemoteIP, e.RemoteUrl, e.AccountName, e.AccountDomain, e.AccountSid,
    e.ProcessCommandLine, e.RegistryKey, e.RegistryValueName, e.RegistryValueData, e.ThreatFamily,
    a.AlertTime, a.Title, a.Category, a.Severity, a.DetectionSource, a.ServiceSource,
    a.AttackTechniques
FROM AlertEvidence e JOIN alerts a ON a.AlertId = e.AlertId
WHERE e."Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP
    AND e.AlertId IN (SELECT AlertId FROM alert_ids)
ORDER BY AlertTime
