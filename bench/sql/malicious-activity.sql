-- Defender's own protection events: antivirus, ASR, SmartScreen, tampering, Exploit Guard, AMSI.
WITH events AS (
    SELECT *,
        CASE WHEN starts_with(lower(ActionType), 'asr') THEN 'Attack surface reduction'
             WHEN starts_with(lower(ActionType), 'smartscreen') THEN 'SmartScreen'
             WHEN starts_with(lower(ActionType), 'antivirus') THEN 'Antivirus'
             WHEN ActionType = 'TamperingAttempt' THEN 'Tampering'
             WHEN starts_with(lower(ActionType), 'amsi') THEN 'AMSI'
             ELSE 'Exploit Guard' END AS Category,
        CAST(AdditionalFields AS JSON) AS Fields
    FROM DeviceEvents
    WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND (starts_with(lower(ActionType), 'asr')
        OR starts_with(lower(ActionType), 'smartscreen')
        OR ActionType IN ('AntivirusDetection', 'AntivirusReport', 'AntivirusDetectionActionType')
        OR ActionType = 'TamperingAttempt' OR starts_with(lower(ActionType), 'exploitguard')
        OR starts_with(lower(ActionType), 'controlledfolderaccess')
        OR ActionType = 'AmsiScriptDetection')
)
SELECT "Timestamp", DeviceName, DeviceId, Category, ActionType,
    CASE WHEN ends_with(lower(ActionType), 'blocked') OR ends_with(lower(ActionType), 'enforced') THEN 'Blocked'
         WHEN ends_with(lower(ActionType), 'audited') THEN 'Audited'
         WHEN Category = 'Tampering' THEN coalesce(Fields ->> 'Status', '')
         WHEN Category = 'Antivirus' THEN CASE WHEN lower(coalesce(Fields ->> 'WasRemediated', '')) = 'true'
             THEN 'Remediated' ELSE 'Detected' END
         ELSE 'Warned' END AS Outcome,
    CASE Category
        WHEN 'Antivirus' THEN coalesce(Fields ->> 'ThreatName', '')
        WHEN 'Attack surface reduction' THEN coalesce(Fields ->> 'RuleId', '')
        WHEN 'SmartScreen' THEN coalesce(Fields ->> 'Experience', '')
        WHEN 'Tampering' THEN coalesce(Fields ->> 'TamperingAction', '') || ' ' || coalesce(Fields ->> 'Target', '')
        WHEN 'AMSI' THEN coalesce(Fields ->> 'Description', '')
        ELSE coalesce(Fields ->> 'ResponseCategory', '') END AS Detail,
    FileName, FolderPath, SHA1, RemoteUrl, RemoteIP, AccountName, InitiatingProcessFileName,
    InitiatingProcessCommandLine, InitiatingProcessId, InitiatingProcessCreationTime,
    InitiatingProcessAccountName, CAST(AdditionalFields AS VARCHAR) AS AdditionalFields
FROM events
ORDER BY "Timestamp"
