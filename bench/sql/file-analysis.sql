-- What the named files did: their file events, their runs and the processes they started.
-- A command line names a file when the name is a whole term of it. The pattern of that
-- regular expression depends on the row, so DuckDB compiles it for every row it tests. A
-- substring test first keeps it to the few lines that contain a name at all.
WITH devices AS (SELECT DISTINCT lower(unnest($Devices::VARCHAR[])) AS device),
names AS (SELECT DISTINCT lower(unnest($Names::VARCHAR[])) AS name),
hashes AS (SELECT DISTINCT lower(unnest($Hashes::VARCHAR[])) AS sha1),
processes AS (
    SELECT * FROM DeviceProcessEvents
    WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP
        AND lower(DeviceName) IN (SELECT device FROM devices)
)
SELECT "Timestamp", DeviceName, DeviceId, 'File' AS Evidence, ActionType, FileName, FolderPath,
    SHA1, PreviousFileName, PreviousFolderPath, CAST(NULL AS BIGINT) AS ProcessId,
    '' AS ProcessCommandLine, InitiatingProcessFileName, InitiatingProcessCommandLine,
    InitiatingProcessId, InitiatingProcessCreationTime, InitiatingProcessAccountName AS AccountName
FROM DeviceFileEvents
WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP
    AND lower(DeviceName) IN (SELECT device FROM devices)
    AND (lower(SHA1) IN (SELECT sha1 FROM hashes) OR lower(FileName) IN (SELECT name FROM names)
        OR lower(PreviousFileName) IN (SELECT name FROM names))
UNION ALL
SELECT "Timestamp", DeviceName, DeviceId, 'Execution', ActionType, FileName, FolderPath, SHA1, '',
    '', ProcessId, ProcessCommandLine, InitiatingProcessFileName, InitiatingProcessCommandLine,
    InitiatingProcessId, InitiatingProcessCreationTime, AccountName
FROM processes
WHERE lower(SHA1) IN (SELECT sha1 FROM hashes) OR lower(FileName) IN (SELECT name FROM names)
    OR EXISTS (SELECT 1 FROM names WHERE contains(lower(ProcessCommandLine), name)
        AND regexp_matches(lower(ProcessCommandLine),
            '(^|[^a-z0-9_])' || regexp_escape(name) || '($|[^a-z0-9_])'))
UNION ALL
SELECT "Timestamp", DeviceName, DeviceId, 'Child process', ActionType, FileName, FolderPath, SHA1,
    '', '', ProcessId, ProcessCommandLine, InitiatingProcessFileName, InitiatingProcessCommandLine,
    InitiatingProcessId, InitiatingProcessCreationTime, AccountName
FROM processes
WHERE lower(InitiatingProcessSHA1) IN (SELECT sha1 FROM hashes)
    OR lower(InitiatingProcessFileName) IN (SELECT name FROM names)
    OR EXISTS (SELECT 1 FROM names WHERE contains(lower(InitiatingProcessCommandLine), name)
        AND regexp_matches(lower(InitiatingProcessCommandLine),
            '(^|[^a-z0-9_])' || regexp_escape(name) || '($|[^a-z0-9_])'))
ORDER BY "Timestamp"
