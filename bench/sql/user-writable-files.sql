-- Files created or renamed in folders any user can write to, with executables flagged.
SELECT "Timestamp", DeviceName, DeviceId, ActionType, FileName, FolderPath, SHA1, FileSize,
    PreviousFileName, Extension,
    Extension IN ('.exe', '.dll', '.scr', '.ps1', '.cmd', '.bat', '.vbs', '.js', '.jse', '.hta', '.msi',
        '.lnk', '.com', '.pif', '.wsf', '.iso', '.img') AS IsExecutable,
    FileOriginUrl, InitiatingProcessFileName, InitiatingProcessCommandLine, InitiatingProcessId,
    InitiatingProcessCreationTime, InitiatingProcessAccountName
FROM (
    SELECT *, lower(regexp_extract(FileName, '(\.[A-Za-z0-9]{1,8})$', 1)) AS Extension
    FROM DeviceFileEvents
    WHERE "Timestamp" BETWEEN $StartTime::TIMESTAMP AND $EndTime::TIMESTAMP AND lower(DeviceName) IN (SELECT lower(unnest($Devices::VARCHAR[]))) AND ActionType IN ('FileCreated', 'FileRenamed')
        AND (contains(lower(FolderPath), '\users\') OR contains(lower(FolderPath), '\programdata\')
            OR contains(lower(FolderPath), '\temp\') OR contains(lower(FolderPath), '\appdata\'))
)
ORDER BY "Timestamp"
